"""nas's servers against idle, half-open and flooding clients (issue 25 item 3), in-process
with short timeouts: the settings of :func:`nas.serving.uvicorn_config` that both servers use.

Each test waits for the server to act (a socket read returns when it closes the connection or
answers); the socket timeouts only bound a failure, nothing is timed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from nas.listen import bind
from nas.serving import uvicorn_config

FAIL_AFTER = 30.0  # a socket read that waits this long means the server never acted
# a header timeout far shorter than the keep-alive one, which cannot be what closes
QUICK: dict[str, Any] = {
    "max_in_flight": 8, "max_connections": 64, "header_seconds": 0.5, "idle_seconds": 60,
}  # fmt: skip


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """``/block`` waits until the test releases it; everything else answers at once."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/block":
        await asyncio.to_thread(_release.wait, FAIL_AFTER)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


_release = threading.Event()


@contextmanager
def _serving(**options: Any) -> Iterator[tuple[Any, int]]:
    import uvicorn

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(_app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + FAIL_AFTER
    while not server.started:  # readiness, not a measurement
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield server, sock.getsockname()[1]
    finally:
        _release.set()
        server.should_exit = True
        thread.join(FAIL_AFTER)
        sock.close()
        _release.clear()


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=FAIL_AFTER)
    return s


def _read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def _get(port: int, path: str) -> bytes:
    with _connect(port) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return _read_all(s)


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /health HTTP/1.1\r\nHost: x\r\n"],  # silent; a head that never ends
    ids=["silent", "slow-head"],
)
def test_a_connection_without_a_complete_request_head_is_closed(sent: bytes) -> None:
    with _serving(**QUICK) as (_, port), _connect(port) as s:
        s.sendall(sent)
        assert _read_all(s) == b""  # closed by the server, nothing answered


def test_a_kept_alive_connection_gets_the_header_timeout_again() -> None:
    with _serving(**QUICK) as (_, port), _connect(port) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_all(s)  # answered, then closed while it waits for a next request
        assert data.startswith(b"HTTP/1.1 200") and b"ok" in data


def test_silent_connections_do_not_shut_out_requests() -> None:
    # uvicorn's limit_concurrency counts connections: 70 silent ones used to make a server
    # with a limit of 64 answer 503 to everything, its health check included
    with _serving(max_in_flight=64, max_connections=1024) as (server, port):
        idle = [_connect(port) for _ in range(70)]
        try:
            deadline = time.monotonic() + FAIL_AFTER
            while len(server.server_state.connections) < 70:  # all accepted
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert _get(port, "/x").startswith(b"HTTP/1.1 200")
        finally:
            for s in idle:
                s.close()


def test_requests_over_the_limit_are_refused_but_health_is_answered() -> None:
    with _serving(max_in_flight=1, max_connections=64, exempt={"/health"}) as (server, port):
        blocked = _connect(port)
        blocked.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            deadline = time.monotonic() + FAIL_AFTER
            while not server.server_state.tasks:  # the blocking request is being answered
                assert time.monotonic() < deadline
                time.sleep(0.01)
            busy = _get(port, "/x")
            assert busy.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in busy.lower()
            assert _get(port, "/health").startswith(b"HTTP/1.1 200")
            _release.set()
            assert blocked.recv(65536).startswith(b"HTTP/1.1 200")
            assert _get(port, "/x").startswith(b"HTTP/1.1 200")  # the slot is free again
        finally:
            blocked.close()
