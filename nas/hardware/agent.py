"""The device agent: an HTTP server (FastAPI on uvicorn) that measures ONNX models here.

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

Each measurement runs in a child process (:class:`Measurer`, kept between requests so ONNX
Runtime is imported once) under a time limit (``--time-limit-s``): a model that runs for ever
(an ONNX ``Loop`` of 10^9 iterations) is stopped by killing the child, answered with 504 and
the reason, and the next request gets a fresh child. The token and the upload's
``Content-Length`` are checked from the request head before any of the body is read; idle and
half-open connections are closed, and a flood of them cannot make ``/health`` answer 503
(:mod:`nas.serving`).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import threading
from dataclasses import dataclass, field
from typing import Any

from nas.errors import OptionError
from nas.hardware.timing import TimingConfig
from nas.listen import DEVICE_TOKEN_ENV, MIN_TOKEN_CHARS

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 64.0
DEFAULT_TIME_LIMIT_S = 300.0
STARTUP_LIMIT_S = 300.0  # a measuring process must be ready within this
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


class MeasurementTimeout(RuntimeError):
    """The model ran longer than the agent's time limit; its process was killed."""


def _child(conn: Any) -> None:  # the measuring process: one request after another
    from nas.hardware.ort import measure_onnx

    conn.send(("ready", None))  # imports done: the time limit counts from here
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        model, shape, threads, providers, timing = job
        try:
            stats = measure_onnx(model, shape, threads=threads, providers=providers, timing=timing)
            conn.send(("ok", stats.to_dict()))
        except Exception as exc:  # ORT raises its own types for models it cannot run
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Measurer:
    """A child process that measures, killed and replaced when a measurement overruns.

    Why a process and not a thread: ONNX Runtime's ``run`` cannot be interrupted from
    Python; only ending the process that runs it frees the machine.
    """

    def __init__(self, time_limit_s: float) -> None:
        self.time_limit_s = time_limit_s
        self.ctx = mp.get_context("spawn")  # no fork of a process with server threads
        self.proc: Any = None
        self.conn: Any = None

    def _ensure(self) -> None:
        if self.proc is None or not self.proc.is_alive():
            parent, child = self.ctx.Pipe()
            self.proc = self.ctx.Process(target=_child, args=(child,), daemon=True)
            self.proc.start()
            child.close()
            self.conn = parent
            # starting a process and importing ONNX Runtime is not the model's time
            if not parent.poll(STARTUP_LIMIT_S):
                self.kill()
                raise RuntimeError(f"the measuring process did not start in {STARTUP_LIMIT_S} s")
            parent.recv()

    def measure(
        self,
        model: bytes,
        shape: tuple[int, ...],
        threads: int,
        providers: list[str],
        timing: TimingConfig,
    ) -> dict[str, Any]:
        """Statistics as a dict.

        Raises:
            MeasurementTimeout: over the time limit (the child is killed).
            RuntimeError: ONNX Runtime could not run the model.
        """
        self._ensure()
        self.conn.send((model, shape, threads, providers, timing))
        if not self.conn.poll(self.time_limit_s):
            self.kill()
            raise MeasurementTimeout(
                f"the measurement took longer than the agent's limit of {self.time_limit_s:g} s "
                "and was stopped"
            )
        try:
            status, value = self.conn.recv()
        except EOFError:  # the child died (out of memory, a crash inside ORT)
            self.kill()
            raise RuntimeError("the measuring process died") from None
        if status != "ok":
            raise RuntimeError(value)
        return value

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(timeout=10)
            self.proc = None


@dataclass
class AgentState:
    """What every request handler shares."""

    token: str
    threads: int
    providers: list[str]
    timing: TimingConfig
    max_upload_bytes: int
    fingerprint: dict[str, str | int]
    measurer: Measurer
    lock: threading.Lock = field(default_factory=threading.Lock)
    measurements: int = 0


@dataclass
class Agent:
    """A bound agent, not yet serving: :func:`nas.hardware.agent_app.serve` runs it."""

    state: AgentState
    sock: Any
    server_address: tuple[str, int]


def make_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str,
    threads: int | None = None,
    providers: list[str] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    timing: TimingConfig | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> Agent:
    """A ready (bound, not yet serving) agent; ``port=0`` picks a free one.

    Raises:
        OptionError: no token, bad upload cap or time limit, bad or unavailable port, or
            missing onnxruntime.
    """
    from nas.hardware.ort import default_threads, ort_fingerprint, resolve_providers
    from nas.listen import bind

    if not token:
        raise OptionError(
            f"the device agent needs a token: set {DEVICE_TOKEN_ENV} or pass --token"
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise OptionError(
            f"the device token must have at least {MIN_TOKEN_CHARS} characters, got "
            f"{len(token)} (e.g. {DEVICE_TOKEN_ENV}=$(openssl rand -hex 24))"
        )
    if not (0 < max_upload_mb <= 16384):
        raise OptionError(f"--max-upload-mb must be in (0, 16384], got {max_upload_mb}")
    if not (0 < time_limit_s <= 86400):
        raise OptionError(f"--time-limit-s must be in (0, 86400], got {time_limit_s}")
    if threads is not None and threads < 1:
        raise OptionError(f"--threads must be >= 1, got {threads}")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OptionError("the device agent needs: pip install onnx onnxruntime") from None
    n = threads or default_threads()
    chosen = resolve_providers(providers)
    sock = bind(host, port)
    state = AgentState(
        token=token,
        threads=n,
        providers=chosen,
        timing=timing or TimingConfig(),
        max_upload_bytes=int(max_upload_mb * 2**20),
        fingerprint=ort_fingerprint(n, chosen, (timing or TimingConfig()).clock),
        measurer=Measurer(time_limit_s),
    )
    addr = sock.getsockname()
    return Agent(state, sock, (str(addr[0]), int(addr[1])))
