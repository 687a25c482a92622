"""Authentication and body caps of ``nas serve``: one ASGI middleware in front of every route.

Every route but ``/healthz`` (and the dashboard's login pages) needs ``Authorization: Bearer
TOKEN``, compared in constant time; being one middleware, a route added later is covered
without a thought. The dashboard also takes the cookie that ``/login`` sets
(:mod:`nas.service.web`). The same middleware caps request bodies, also those sent without
``Content-Length``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nas.service import web
from nas.service.config import ServiceConfig

OPEN_PATHS = frozenset({"/healthz"} | web.WEB_PATHS)


class Guard:
    """ASGI middleware: the bearer token on every path but ``OPEN_PATHS`` (the dashboard
    also takes the login cookie); body size caps.

    Written as plain ASGI (not ``BaseHTTPMiddleware``) so it also counts the bytes of a body
    sent without ``Content-Length`` and never buffers a streamed response.
    """

    def __init__(self, app: ASGIApp, config: ServiceConfig) -> None:
        self.app, self.config = app, config
        self.expected = f"Bearer {config.token}".encode() if config.token else None
        self.cookie = web.cookie_value(config.token) if config.token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = dict(scope["headers"])
        if self.expected is not None and path not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            ok = hmac.compare_digest(given, self.expected)
            if not ok and web.is_dashboard(path):
                ok = web.has_cookie(headers.get(b"cookie", b""), self.cookie)
                if not ok and scope["method"] == "GET" and b"html" in headers.get(b"accept", b""):
                    where = web.login_redirect(path, scope.get("query_string", b""))
                    await _send_redirect(send, where)
                    return
            if not ok:
                await _send_json(send, 401, {"detail": "missing or wrong token"})
                return
        cap = (
            self.config.max_upload_bytes if path == "/api/datasets" else self.config.max_body_bytes
        )
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _send_json(send, 413, {"detail": f"request body larger than {cap} bytes"})
            return
        seen, too_large, answered = 0, False, False

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:  # a body without Content-Length, counted as it arrives
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if too_large:  # whatever the app makes of the cut body, the answer is 413
                if not answered:
                    answered = True
                    await _send_json(
                        send, 413, {"detail": f"request body larger than {cap} bytes"}
                    )
                return
            answered = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not answered:
            await _send_json(send, 413, {"detail": f"request body larger than {cap} bytes"})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if status in (401, 413):  # the body is left unread: nothing the client still sends is kept
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_redirect(send: Send, where: str) -> None:
    headers = [(b"location", where.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
