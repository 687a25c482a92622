"""The device agent's FastAPI application and :func:`serve`, which runs a bound agent.

Its own module so that FastAPI is imported only by the agent, not by every search that names
a remote target.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nas.hardware.agent import (
    Agent,
    AgentState,
    MeasurementTimeout,
    RejectedModel,
    check_onnx,
    parse_shape,
)
from nas.serving import send_refusal, uvicorn_config

log = logging.getLogger(__name__)


OPEN_PATHS = frozenset({"/health"})  # answered without a token, and never refused as busy
MAX_IN_FLIGHT = 64  # requests answered at a time (one measures; the others wait for it)
MAX_CONNECTIONS = 1024  # uvicorn's backstop: over it, every request is answered 503


class _Guard:
    """ASGI middleware: the token on every path but ``OPEN_PATHS``, and a ``Content-Length``
    within the upload cap on a POST, both checked from the request head before any of the
    body is read (a client without the token cannot make the agent buffer an upload)."""

    def __init__(self, app: Any, state: AgentState) -> None:
        self.app, self.cap = app, state.max_upload_bytes
        self.expected = f"Bearer {state.token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            await send_refusal(send, 401, {"error": "missing or wrong token"})
            return
        if scope["method"] == "POST":
            length = headers.get(b"content-length", b"")
            if not length.isdigit():
                await send_refusal(send, 411, {"error": "Content-Length required"})
                return
            if int(length) > self.cap:
                why = f"upload of {int(length)} bytes exceeds {self.cap}"
                await send_refusal(send, 413, {"error": why})
                return
        await self.app(scope, receive, send)


def create_agent_app(state: AgentState):  # type: ignore[no-untyped-def]
    """The agent's FastAPI application (answers ``{"error": ...}`` on every refusal)."""
    app = FastAPI(title="nas device agent", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_Guard, state=state)

    def refuse(status: int, text: str) -> JSONResponse:
        return JSONResponse({"error": text}, status_code=status)

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return refuse(404, f"no such endpoint {request.url.path}")

    @app.exception_handler(405)
    async def _not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return refuse(405, f"{request.method} is not allowed on {request.url.path}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "busy": state.lock.locked(),
            "measurements": state.measurements,
            "max_upload_bytes": state.max_upload_bytes,
            "time_limit_s": state.measurer.time_limit_s,
        }

    @app.get("/fingerprint")
    def fingerprint() -> Any:  # the token was checked by _Guard
        return {"fingerprint": state.fingerprint}

    @app.post("/measure")
    async def measure(request: Request, shape: str = "") -> Any:
        # token and Content-Length were checked by _Guard before any of the body was read
        body = await _read_upload(request, state.max_upload_bytes)
        if isinstance(body, tuple):
            return refuse(*body)
        try:
            dims = parse_shape(shape)
            check_onnx(body)
        except RejectedModel as exc:
            return refuse(415, str(exc))
        except ValueError as exc:
            return refuse(400, str(exc))
        status, reply = await asyncio.to_thread(_measure, state, body, dims)
        return JSONResponse(reply, status_code=status)

    return app


async def _read_upload(request: Request, cap: int) -> bytes | tuple[int, str]:
    """The request's body of at most ``cap`` bytes (its ``Content-Length`` was checked by
    :class:`_Guard`), or ``(status, why)`` to refuse it."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return 413, f"upload exceeds {cap} bytes"
    return bytes(body)


def _measure(st: AgentState, model: bytes, shape: tuple[int, ...]) -> tuple[int, dict[str, Any]]:
    with st.lock:  # one at a time: concurrent runs would slow each other down
        try:
            stats = st.measurer.measure(model, shape, st.threads, st.providers, st.timing)
        except MeasurementTimeout as exc:
            log.warning("%s", exc)
            return 504, {"error": str(exc)}
        except RuntimeError as exc:
            log.warning("measurement failed: %s", exc)
            return 422, {"error": f"ONNX Runtime could not run the model: {exc}"[:500]}
        st.measurements += 1
    return 200, {"stats": stats, "fingerprint": st.fingerprint}


def serve(agent: Agent) -> None:
    """Run ``agent`` on its socket until interrupted; then stop its measuring process."""
    import uvicorn

    config = uvicorn_config(
        create_agent_app(agent.state),
        max_in_flight=MAX_IN_FLIGHT,
        max_connections=MAX_CONNECTIONS,
        exempt=OPEN_PATHS,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[agent.sock])
    finally:
        agent.state.measurer.kill()
        agent.sock.close()
