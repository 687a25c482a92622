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
    IDLE_SECONDS,
    Agent,
    AgentState,
    MeasurementTimeout,
    RejectedModel,
    check_onnx,
    parse_shape,
)

log = logging.getLogger(__name__)


def create_agent_app(state: AgentState):  # type: ignore[no-untyped-def]
    """The agent's FastAPI application (answers ``{"error": ...}`` on every refusal)."""
    app = FastAPI(title="nas device agent", docs_url=None, redoc_url=None, openapi_url=None)
    expected = f"Bearer {state.token}".encode()

    def refuse(status: int, text: str) -> JSONResponse:
        return JSONResponse({"error": text}, status_code=status)

    def authorised(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

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
    def fingerprint(request: Request) -> Any:
        if not authorised(request):
            return refuse(401, "missing or wrong token")
        return {"fingerprint": state.fingerprint}

    @app.post("/measure")
    async def measure(request: Request, shape: str = "") -> Any:
        # Read (bounded by the cap) before answering, so a refused client sees the 401
        # instead of a connection reset in the middle of its upload.
        body = await _read_upload(request, state.max_upload_bytes)
        if isinstance(body, tuple):
            return refuse(*body)
        if not authorised(request):
            return refuse(401, "missing or wrong token")
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
    """The request's body of at most ``cap`` bytes, or ``(status, why)`` to refuse it."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return 411, "Content-Length required"
    if int(length) > cap:
        # answered from the header, the body is never read (uvicorn drops the connection)
        return 413, f"upload of {length} bytes exceeds {cap}"
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

    server = uvicorn.Server(
        uvicorn.Config(
            create_agent_app(agent.state),
            log_level="warning",
            timeout_keep_alive=IDLE_SECONDS,
            limit_concurrency=64,
        )
    )
    try:
        server.run(sockets=[agent.sock])
    finally:
        agent.state.measurer.kill()
        agent.sock.close()
