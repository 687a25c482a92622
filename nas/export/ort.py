"""Run and time ONNX models with ONNX Runtime on the CPU.

Timing follows the shared protocol of :func:`nas.hardware.timing.time_runs` (warm-up, runs
until the median is stable, outlier rejection), so ONNX Runtime and torch latencies in one
table are measured the same way, with the same thread count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nas.export.onnx import INPUT
from nas.hardware.timing import LatencyStats, TimingConfig, time_runs


def session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def fingerprint(threads: int) -> dict[str, str | int]:
    import onnxruntime as ort

    from nas.hardware.fingerprint import host_fingerprint

    return {
        **host_fingerprint(),
        "target": "onnxruntime",
        "runtime": f"onnxruntime {ort.__version__}",
        "threads": threads,
    }


def run(sess: Any, x: np.ndarray) -> np.ndarray:
    """Logits of ``x`` ``(B, C, H, W)`` -> ``(B, classes)``."""
    return sess.run(None, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def accuracy(sess: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy (a fraction) of an ONNX Runtime session."""
    correct = 0
    for i in range(0, len(x), batch_size):
        pred = run(sess, x[i : i + batch_size]).argmax(axis=1)
        correct += int((pred == y[i : i + batch_size]).sum())
    return correct / max(len(y), 1)


def measure(
    sess: Any, input_shape: tuple[int, ...], timing: TimingConfig | None = None, seed: int = 0
) -> LatencyStats:
    x = np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)
    feed = {INPUT: x}
    return time_runs(lambda: sess.run(None, feed), timing or TimingConfig())
