"""How nas's two servers (``nas serve``, ``nas device serve``) meet the network: uvicorn's
settings and an ASGI limit on requests in flight, so that no client without a token can take
a server down with idle or half-open connections.

- **Idle and half-open connections are closed.** uvicorn closes a kept-alive connection idle
  for ``timeout_keep_alive`` seconds, but has no timeout for a connection that has not sent
  a complete request head: one that sends nothing, or a header a byte at a time, stayed open
  for ever. Its h11 protocol is therefore given a header timeout (:data:`HEADER_SECONDS`,
  from the connection's start or the end of its last answer to the end of the next request's
  headers), and headers above 64 KiB are refused by h11 (``h11_max_incomplete_event_size``).
  The protocol is pinned to h11 so that installing httptools does not drop these settings.
- **Requests, not connections, are limited.** uvicorn's ``limit_concurrency`` counts open
  connections and answers 503 to *every* request over it (the health check included): 64
  silent connections made the device agent useless. It stays only as a high backstop
  against running out of file descriptors; :class:`InFlightLimit` caps requests being
  answered and answers 503 over it, except on the health paths.

Token and body-size checks come before the body is read, in each server's own middleware
(:mod:`nas.service.app`, :mod:`nas.hardware.agent_app`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

HEADER_SECONDS = 10.0  # a connection must deliver a complete request head within this
IDLE_SECONDS = 5  # keep-alive connections idle this long are closed
MAX_HEADER_BYTES = 64 * 1024


class InFlightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests being answered at a time; more get
    503 with ``Retry-After``. Paths in ``exempt`` (health checks) are never refused."""

    def __init__(self, app: Any, *, limit: int, exempt: Collection[str] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, frozenset(exempt)
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await send_refusal(send, 503, {"error": "server busy; try again"}, retry_after=1)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def send_refusal(
    send: Any, status: int, body: dict[str, Any], *, retry_after: int | None = None
) -> None:
    """Answer with JSON and close the connection, without reading the request's body: the
    client may still be sending it, and nothing it sends after this is kept."""
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"connection", b"close"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _h11_with_header_timeout(seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head is not complete
    ``seconds`` after it opened or after its previous answer was sent."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11(H11Protocol):  # type: ignore[misc]
        header_timer: Any = None

        def _arm(self) -> None:
            self._disarm()
            self.header_timer = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _too_slow(self) -> None:
            self.header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # nothing to answer: no request has begun

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the request head is complete
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # waiting for the next request on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutH11


def _room_for(connections: int) -> None:
    """Raise this process's soft limit of open files (up to the hard limit) so that the
    connection backstop, not a failing ``accept``, is what a flood meets first."""
    try:
        import resource
    except ImportError:  # not Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 256  # the database, the workers' pipes, the log
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def uvicorn_config(
    app: Any,
    *,
    max_in_flight: int,
    max_connections: int,
    exempt: Collection[str] = (),
    header_seconds: float = HEADER_SECONDS,
    idle_seconds: int = IDLE_SECONDS,
) -> Any:
    """The ``uvicorn.Config`` of a nas server (see the module docstring).

    Args:
        app: the ASGI application (its own middleware checks tokens and body sizes).
        max_in_flight: requests answered at a time (:class:`InFlightLimit`).
        max_connections: open connections; over it uvicorn answers 503 to everything, so it
            is only a backstop, far above ``max_in_flight``.
        exempt: paths never refused for being busy (health checks).
        header_seconds: time for a connection to deliver a complete request head.
        idle_seconds: keep-alive connections idle this long are closed.
    """
    import uvicorn

    _room_for(max_connections)
    return uvicorn.Config(
        InFlightLimit(app, limit=max_in_flight, exempt=exempt),
        http=_h11_with_header_timeout(header_seconds),
        log_level="warning",
        timeout_keep_alive=idle_seconds,
        limit_concurrency=max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
