"""Everything that runs ONNX Runtime: sessions, timing, fingerprint, the ``onnxruntime`` target.

The same session settings and timing serve the local ``onnxruntime`` target, the device agent
(:mod:`nas.hardware.agent`) and ``nas compress`` (an export's ONNX files), so a model measured
remotely or by compress runs exactly as the target runs it, and its latency carries the
target's fingerprint (the latency cache key). The CPU provider is always last in the list;
other installed providers (CUDA, OpenVINO, ...) come first in ONNX Runtime's own order and are
named in the fingerprint. Timing follows :func:`nas.hardware.timing.time_runs`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nas.errors import OptionError
from nas.hardware.fingerprint import host_fingerprint
from nas.hardware.onnx_export import to_onnx_bytes
from nas.hardware.target import Shape, Target
from nas.hardware.timing import LatencyStats, TimingConfig, time_runs

CPU_PROVIDER = "CPUExecutionProvider"


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def resolve_providers(providers: list[str] | None) -> list[str]:
    """The providers to run with: the requested ones (all installed), or every installed one.

    Raises:
        OptionError: a requested provider is not installed.
    """
    import onnxruntime as ort

    available = list(ort.get_available_providers())
    if providers is None:
        # TensorRT needs engine builds per shape; keep the search to providers that run as is.
        chosen = [p for p in available if p != "TensorrtExecutionProvider"]
    else:
        missing = [p for p in providers if p not in available]
        if missing:
            raise OptionError(
                f"ONNX Runtime provider(s) {', '.join(missing)} not installed; "
                f"available: {', '.join(available)}"
            )
        chosen = list(providers)
    if CPU_PROVIDER not in chosen:
        chosen.append(CPU_PROVIDER)
    return chosen


def ort_fingerprint(
    threads: int, providers: list[str], clock: str = "wall"
) -> dict[str, str | int]:
    import onnxruntime as ort

    return {
        **host_fingerprint(),
        "target": "onnxruntime",
        "runtime": f"onnxruntime {ort.__version__}",
        "providers": ",".join(providers),
        "threads": threads,
        "graph_optimization": "all",
        **({"clock": clock} if clock != "wall" else {}),
    }


def session(model: bytes | Path, threads: int, providers: list[str]) -> Any:
    """An inference session of an ONNX model (bytes or a file) with fixed threads, sequential
    execution and all graph optimisations."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=so, providers=providers)


def run(sess: Any, x: Any) -> Any:
    """The first output of a session with one float32 input, e.g. logits ``(B, classes)``."""
    import numpy as np

    return sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(x, np.float32)})[0]


def accuracy(sess: Any, x: Any, y: Any, batch_size: int = 256) -> float:
    """Top-1 accuracy (a fraction) of a classifier's session on images ``x`` ``(N, C, H, W)``."""
    correct = 0
    for i in range(0, len(x), batch_size):
        pred = run(sess, x[i : i + batch_size]).argmax(axis=1)
        correct += int((pred == y[i : i + batch_size]).sum())
    return correct / max(len(y), 1)


def time_session(sess: Any, input_shape: Shape, timing: TimingConfig) -> LatencyStats:
    """Latency of a session (one float32 input) at ``input_shape`` under the protocol."""
    import numpy as np

    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    feed = {sess.get_inputs()[0].name: x}
    return time_runs(lambda: sess.run(None, feed), timing)


def measure_onnx(
    model: bytes | Path,
    input_shape: Shape,
    *,
    threads: int,
    providers: list[str],
    timing: TimingConfig,
) -> LatencyStats:
    """Latency of an ONNX model (one float32 input) at ``input_shape`` under the protocol."""
    return time_session(session(model, threads, providers), input_shape, timing)


class OnnxRuntimeTarget(Target):
    """Export each model to ONNX and time it with ONNX Runtime on this machine."""

    name = "onnxruntime"

    def __init__(
        self,
        *,
        threads: int | None = None,
        providers: list[str] | None = None,
        timing: TimingConfig | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise OptionError(f"threads must be >= 1, got {threads}")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise OptionError(
                "target onnxruntime needs the onnxruntime package: pip install onnxruntime"
            ) from None
        self.threads = threads or default_threads()
        self.providers = resolve_providers(providers)
        self.timing = timing or TimingConfig()

    def fingerprint(self) -> dict[str, str | int]:
        return ort_fingerprint(self.threads, self.providers, self.timing.clock)

    def session(self, model: bytes | Path) -> Any:
        """A session of ``model`` set up as this target runs it (threads, providers)."""
        return session(model, self.threads, self.providers)

    def measure_session(self, sess: Any, input_shape: Shape) -> LatencyStats:
        """Latency of a session from :meth:`session`, under this target's fingerprint."""
        return time_session(sess, input_shape, self.timing)

    def measure(self, module: Any, input_shape: Shape) -> LatencyStats:
        return self.measure_session(self.session(to_onnx_bytes(module, input_shape)), input_shape)
