"""The ONNX Runtime target: export to ONNX, run with ONNX Runtime's execution providers.

The same runner serves the local ``onnxruntime`` target and the device agent
(:mod:`nas.hardware.agent`), so a model measured remotely runs exactly as it would locally.
The CPU provider is always last in the list; other installed providers (CUDA, OpenVINO, ...)
come first in ONNX Runtime's own order and are named in the fingerprint.
"""

from __future__ import annotations

import os
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


def session(model: bytes, threads: int, providers: list[str]) -> Any:
    """An inference session with fixed threads, sequential execution, all graph optimisations."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=so, providers=providers)


def measure_onnx(
    model: bytes, input_shape: Shape, *, threads: int, providers: list[str], timing: TimingConfig
) -> LatencyStats:
    """Latency of an ONNX model (one float32 input) at ``input_shape`` under the protocol."""
    import numpy as np

    sess = session(model, threads, providers)
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    feed = {name: x}
    return time_runs(lambda: sess.run(None, feed), timing)


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

    def measure(self, module: Any, input_shape: Shape) -> LatencyStats:
        model = to_onnx_bytes(module, input_shape)
        return measure_onnx(
            model, input_shape, threads=self.threads, providers=self.providers, timing=self.timing
        )
