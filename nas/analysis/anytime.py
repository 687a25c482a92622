"""Anytime results: best-so-far accuracy and dominated hypervolume after every trial.

Hypervolume is the area dominated by the Pareto front in the (accuracy, latency) plane,
bounded by a *reference point* ``(accuracy 0, latency ref_ms)``: the area of points with
accuracy in ``[0, acc]`` and latency in ``[lat, ref_ms]`` for some front member. Unless given,
``ref_ms`` is the study's ``max_latency_ms`` when it has one, else 1.1x the slowest completed
trial of the study; pass the same ``ref_ms`` to compare studies with each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from nas.analysis.results import metrics
from nas.pareto import Front2D, hypervolume_2d

__all__ = ["AnytimePoint", "default_reference", "history", "hypervolume_2d"]


@dataclass(frozen=True)
class AnytimePoint:
    trial: int  # trial number
    completed: int  # completed trials so far
    best_accuracy: float
    hypervolume: float


def default_reference(trials: list[FrozenTrial], max_latency_ms: float | None = None) -> float:
    if max_latency_ms is not None:
        return float(max_latency_ms)
    lats = [m[1] for t in trials if (m := metrics(t)) is not None and math.isfinite(m[1])]
    return 1.1 * max(lats) if lats else 1.0


def history(
    trials: list[FrozenTrial],
    *,
    ref_ms: float | None = None,
    max_latency_ms: float | None = None,
) -> list[AnytimePoint]:
    """Best-so-far accuracy and hypervolume after each completed trial, in trial order.

    Infeasible trials (latency above ``max_latency_ms``) count as completed but improve
    neither number.
    """
    done = sorted(
        (t for t in trials if t.state == TrialState.COMPLETE and metrics(t) is not None),
        key=lambda t: t.number,
    )
    ref = ref_ms if ref_ms is not None else default_reference(done, max_latency_ms)
    out: list[AnytimePoint] = []
    # Only the current front matters for the hypervolume, and it changes only when a new point
    # is not covered: keep the front and recompute over it then (5,000 trials: ms, not s).
    front = Front2D()
    hv = 0.0
    best = float("-inf")
    for k, t in enumerate(done, start=1):
        acc, lat = metrics(t)  # type: ignore[misc]
        ok = math.isfinite(acc) and math.isfinite(lat)
        if ok and (max_latency_ms is None or lat <= max_latency_ms):
            best = max(best, acc)
            if front.add(acc, lat):
                hv = front.hypervolume(ref)
        out.append(AnytimePoint(t.number, k, best if len(front) else float("nan"), hv))
    return out
