"""The device agent: an HTTP server that measures ONNX models on the machine it runs on.

``nas device serve`` runs it on the target device; ``--target remote:HOST:PORT`` talks to it
(:mod:`nas.hardware.remote`). Endpoints:

- ``GET /health``: ``{"status": "ok", "busy": bool, "measurements": n, "max_upload_bytes":
  m}``; no token needed.
- ``GET /fingerprint``: the device's fingerprint (token needed).
- ``POST /measure?shape=1x3x224x224``: body is an ONNX model; answers
  ``{"stats": LatencyStats, "fingerprint": {...}}`` (token needed).

Security: a shared token in ``Authorization: Bearer T``, compared in constant time; uploads
above a size cap are refused before they are read; the body must parse as an ONNX
``ModelProto`` and pass ``onnx.checker`` (nothing is unpickled or executed as code), with no
external-data references (which would make ONNX Runtime read files on this machine) and only
standard operator domains (no custom-op libraries). One measurement runs at a time under a lock
so measurements never disturb each other; health checks answer meanwhile. The server binds
127.0.0.1 unless told otherwise, and speaks plain HTTP: on another network put it behind TLS.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from nas.errors import OptionError
from nas.hardware.timing import TimingConfig

log = logging.getLogger(__name__)

TOKEN_ENV = "NAS_DEVICE_TOKEN"
DEFAULT_MAX_UPLOAD_MB = 64.0
MAX_INPUT_ELEMENTS = 64 * 2**20  # 256 MB of float32: refuses shapes that would exhaust memory
ALLOWED_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft"}


class RejectedModel(ValueError):
    """The upload is not an ONNX model the agent will run."""


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` -> ``(1, 3, 224, 224)``; positive dims, bounded element count.

    Raises:
        ValueError: malformed or too large.
    """
    try:
        shape = tuple(int(d) for d in text.split("x"))
    except ValueError:
        raise ValueError(f"input shape must look like 1x3x224x224, got {text!r}") from None
    if not 1 <= len(shape) <= 6 or any(d < 1 for d in shape):
        raise ValueError(f"input shape must have 1-6 positive dimensions, got {text!r}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ValueError(f"input shape {text} has more than {MAX_INPUT_ELEMENTS} elements")
    return shape


def check_onnx(model: bytes) -> None:
    """Accept only a self-contained ONNX model with standard operators.

    Raises:
        RejectedModel: with the reason.
    """
    import onnx
    from onnx.external_data_helper import uses_external_data

    try:
        proto = onnx.load_from_string(model)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise RejectedModel(f"body is not an ONNX model ({type(exc).__name__})") from None
    if not proto.graph.node or not proto.graph.input:
        raise RejectedModel("body is not an ONNX model (no graph)")
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise RejectedModel(f"ONNX model is invalid: {str(exc).splitlines()[0]}") from None
    if any(uses_external_data(t) for t in proto.graph.initializer):
        raise RejectedModel("ONNX model refers to external data files; embed the weights")
    domains = {n.domain for n in proto.graph.node} | {o.domain for o in proto.opset_import}
    bad = sorted(domains - ALLOWED_DOMAINS)
    if bad:
        raise RejectedModel(f"ONNX model uses non-standard operator domains: {', '.join(bad)}")


@dataclass
class AgentState:
    """What every request handler shares."""

    token: str
    threads: int
    providers: list[str]
    timing: TimingConfig
    max_upload_bytes: int
    fingerprint: dict[str, str | int]
    lock: threading.Lock = field(default_factory=threading.Lock)
    measurements: int = 0


class _Handler(BaseHTTPRequestHandler):
    server_version = "nas-device-agent"
    state: AgentState  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.info("%s %s", self.address_string(), format % args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.state.token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self._reply(401, {"error": "missing or wrong token"})
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = urlparse(self.path).path
        if path == "/health":
            self._reply(
                200,
                {
                    "status": "ok",
                    "busy": self.state.lock.locked(),
                    "measurements": self.state.measurements,
                    "max_upload_bytes": self.state.max_upload_bytes,
                },
            )
        elif path == "/fingerprint":
            if self._authorised():
                self._reply(200, {"fingerprint": self.state.fingerprint})
        else:
            self._reply(404, {"error": f"no such endpoint {path}"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        url = urlparse(self.path)
        if url.path != "/measure":
            self._reply(404, {"error": f"no such endpoint {url.path}"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._reply(411, {"error": "Content-Length required"})
            return
        if int(length) > self.state.max_upload_bytes:
            # Refused before reading; the connection closes so the unread body is dropped.
            self.close_connection = True
            self._reply(
                413,
                {"error": f"upload of {length} bytes exceeds {self.state.max_upload_bytes}"},
            )
            return
        # Read (bounded by the cap) before answering, so a refused client sees the 401
        # instead of a connection reset in the middle of its upload.
        body = self.rfile.read(int(length))
        if not self._authorised():
            return
        try:
            shape = parse_shape(parse_qs(url.query).get("shape", [""])[0])
            check_onnx(body)
        except RejectedModel as exc:
            self._reply(415, {"error": str(exc)})
            return
        except ValueError as exc:
            self._reply(400, {"error": str(exc)})
            return
        self._reply(*self._measure(body, shape))

    def _measure(self, model: bytes, shape: tuple[int, ...]) -> tuple[int, dict[str, Any]]:
        from nas.hardware.ort import measure_onnx

        st = self.state
        with st.lock:  # one at a time: concurrent runs would slow each other down
            try:
                stats = measure_onnx(
                    model, shape, threads=st.threads, providers=st.providers, timing=st.timing
                )
            except Exception as exc:  # ORT raises its own types for models it cannot run
                log.warning("measurement failed: %s", exc)
                return 422, {"error": f"ONNX Runtime could not run the model: {exc}"[:500]}
            st.measurements += 1
        return 200, {"stats": stats.to_dict(), "fingerprint": st.fingerprint}


def make_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str,
    threads: int | None = None,
    providers: list[str] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    timing: TimingConfig | None = None,
) -> ThreadingHTTPServer:
    """A ready (bound, not yet serving) agent; ``port=0`` picks a free port.

    Raises:
        OptionError: no token, bad upload cap, port unavailable, or missing onnxruntime.
    """
    from nas.hardware.ort import default_threads, ort_fingerprint, resolve_providers

    if not token:
        raise OptionError(f"the device agent needs a token: set {TOKEN_ENV} or pass --token")
    if max_upload_mb <= 0:
        raise OptionError(f"--max-upload-mb must be > 0, got {max_upload_mb}")
    if threads is not None and threads < 1:
        raise OptionError(f"--threads must be >= 1, got {threads}")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OptionError("the device agent needs: pip install onnx onnxruntime") from None
    n = threads or default_threads()
    chosen = resolve_providers(providers)
    state = AgentState(
        token=token,
        threads=n,
        providers=chosen,
        timing=timing or TimingConfig(),
        max_upload_bytes=int(max_upload_mb * 2**20),
        fingerprint=ort_fingerprint(n, chosen, (timing or TimingConfig()).clock),
    )
    handler = type("AgentHandler", (_Handler,), {"state": state})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise OptionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    return server
