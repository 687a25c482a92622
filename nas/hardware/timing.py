"""The latency measurement protocol, shared by every target.

1. ``warmup`` untimed runs (caches, allocator, lazy kernels).
   Optionally (``min_sample_ms`` > 0, off by default) short models are timed in groups: each
   sample is the mean of ``repeat`` back-to-back runs spanning about ``min_sample_ms``, as
   ``timeit`` does, for clocks too coarse for one run. (Grouping does not help on a busy
   machine: a group spans scheduler time slices that single short runs fit into.)
2. Timed runs in rounds until the median is *stable* or a cap is hit. Stable means the
   estimated standard error of the median, ``1.253 * 1.4826 * MAD / sqrt(n)``, is below
   ``rel_tol`` of the median. Caps: ``max_runs`` runs or ``max_seconds`` of timing.
3. Outliers are rejected before the statistics: a run slower than ``median + 5 * 1.4826 * MAD``
   (a robust 5-sigma bound, at least 1 % of the median) is dropped; on a shared machine those
   are preemptions, not the model. Faster runs are never dropped. The count of dropped runs
   is reported.
Clock: ``wall`` (default) is ``time.perf_counter``: the latency a user sees. ``cpu`` is the
calling thread's CPU time (``time.thread_time``): with one compute thread it is the latency
the model would have on an idle machine, and it does not count time the scheduler gave to
other processes, so it is the measurement to use on a machine shared with other jobs. It is
recorded in the target's fingerprint, so the two never share a cache entry.

4. The result is *noisy* when the cap was hit before the median was stable, or when the
   p10-p90 spread exceeds ``noisy_spread`` of the median.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from nas.errors import OptionError

CLOCKS = ("wall", "cpu")


@dataclass(frozen=True)
class TimingConfig:
    warmup: int = 3
    min_runs: int = 10
    max_runs: int = 100
    max_seconds: float = 3.0
    rel_tol: float = 0.01
    noisy_spread: float = 0.25
    min_sample_ms: float = 0.0
    max_repeat: int = 1000
    clock: str = "wall"  # "wall" | "cpu" (see the module docstring)

    def __post_init__(self) -> None:
        if (
            self.warmup < 0
            or self.min_runs < 3
            or self.max_runs < self.min_runs
            or self.min_sample_ms < 0
            or self.max_repeat < 1
            or self.clock not in CLOCKS
        ):
            raise OptionError(
                "timing needs warmup >= 0, 3 <= min_runs <= max_runs, min_sample_ms >= 0, "
                f"max_repeat >= 1 and clock wall or cpu, got {self}"
            )


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one model on one target, in milliseconds."""

    median_ms: float
    mean_ms: float
    std_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    runs: int
    rejected: int
    warmup: int
    noisy: bool
    repeat: int = 1  # runs averaged into each sample (short models, see the protocol)

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, float | int | bool]) -> LatencyStats:
        # rows stored before a field existed take its default
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})  # type: ignore[arg-type]


def _mad(x: np.ndarray) -> float:
    return float(np.median(np.abs(x - np.median(x))))


def summarize(
    samples_ms: list[float], *, warmup: int, stable: bool, noisy_spread: float, repeat: int = 1
) -> LatencyStats:
    """Statistics of timed runs after outlier rejection (see the module docstring)."""
    x = np.asarray(samples_ms, dtype=np.float64)
    med = float(np.median(x))
    # The 1 % floor keeps a run of identical timings (MAD 0) from rejecting everything above
    # the median while still catching a preemption among them.
    bound = med + max(5 * 1.4826 * _mad(x), 0.01 * med)
    kept = x[x <= bound]
    med = float(np.median(kept))
    p10, p90 = (float(v) for v in np.percentile(kept, [10, 90]))
    noisy = (not stable) or (p90 - p10) > noisy_spread * med
    return LatencyStats(
        median_ms=med,
        mean_ms=float(kept.mean()),
        std_ms=float(kept.std(ddof=1)) if len(kept) > 1 else 0.0,
        p10_ms=p10,
        p90_ms=p90,
        min_ms=float(kept.min()),
        runs=len(kept),
        rejected=len(x) - len(kept),
        warmup=warmup,
        noisy=noisy,
        repeat=repeat,
    )


IMPLAUSIBLE_RATIO = 1.5


def implausible(measured: dict, recorded: dict, ratio: float = IMPLAUSIBLE_RATIO) -> str | None:
    """Why a new measurement of a network disagrees with the one recorded for it, or None.

    Two medians of the same network on the same machine may differ by their spreads; a median
    more than ``ratio`` times above the recorded p90 (or below the recorded p10 by as much) is
    not noise but a disturbed measurement (a busy machine, other threads, a throttled CPU).
    """
    m, lo, hi = (float(recorded[k]) for k in ("median_ms", "p10_ms", "p90_ms"))
    now = float(measured["median_ms"])
    if lo / ratio <= now <= hi * ratio:
        return None
    return (
        f"measured {now:.2f} ms here, {now / m:.1f}x the {m:.2f} ms recorded at export "
        f"(p10-p90 {lo:.2f}-{hi:.2f}): the machine is probably busy; re-run when it is quiet"
    )


def time_runs(
    run: Callable[[], object],
    cfg: TimingConfig,
    *,
    clock: Callable[[], float] | None = None,
    sync: Callable[[], None] = lambda: None,
) -> LatencyStats:
    """Time ``run`` following the protocol; ``sync`` waits for asynchronous devices.

    ``clock`` overrides the configured clock (tests pass a fake one); the ``max_seconds`` cap
    always counts wall time unless a clock is given.
    """
    cap_clock = clock or time.perf_counter
    if clock is None:
        clock = time.thread_time if cfg.clock == "cpu" else time.perf_counter
    for _ in range(cfg.warmup - 1):
        run()
    # The last warm-up run (or one extra run without warm-up) sizes the groups.
    t0 = clock()
    if cfg.warmup > 0 or cfg.min_sample_ms > 0:
        run()
    sync()
    once_ms = (clock() - t0) * 1000.0
    repeat = 1
    if once_ms < cfg.min_sample_ms:
        repeat = min(cfg.max_repeat, math.ceil(cfg.min_sample_ms / max(once_ms, 1e-6)))

    def timed() -> float:
        t0 = clock()
        for _ in range(repeat):
            run()
        sync()
        return (clock() - t0) * 1000.0 / repeat

    return time_samples(timed, cfg, clock=cap_clock, warmed_up=True, repeat=repeat)


def time_samples(
    timed: Callable[[], float],
    cfg: TimingConfig,
    *,
    clock: Callable[[], float] = time.perf_counter,
    warmed_up: bool = False,
    repeat: int = 1,
) -> LatencyStats:
    """The protocol for a ``timed`` callable that runs once and returns its own milliseconds.

    Devices with their own timers (CUDA events) use this directly; ``clock`` only enforces the
    ``max_seconds`` cap.
    """
    if not warmed_up:
        for _ in range(cfg.warmup):
            timed()
    samples: list[float] = []
    started = clock()
    stable = False
    while len(samples) < cfg.max_runs:
        samples.append(timed())
        if len(samples) >= cfg.min_runs:
            x = np.asarray(samples)
            med = float(np.median(x))
            sem = 1.253 * 1.4826 * _mad(x) / np.sqrt(len(x))
            if med > 0 and sem <= cfg.rel_tol * med:
                stable = True
                break
        if clock() - started > cfg.max_seconds and len(samples) >= cfg.min_runs:
            break
    return summarize(
        samples, warmup=cfg.warmup, stable=stable, noisy_spread=cfg.noisy_spread, repeat=repeat
    )
