"""Pure functions over stored trials: the Pareto front, best-so-far, summaries.

Fronts are computed from the ``accuracy`` and ``latency_ms`` user attributes, so a
weighted-objective study has a front too; infeasible trials (latency over the study's
``max_latency_ms``) are left out.
"""

from __future__ import annotations

import math

import numpy as np
from optuna.trial import FrozenTrial

from nas import pareto
from nas.storage import keys


def metrics(trial: FrozenTrial) -> tuple[float, float] | None:
    """``(accuracy, latency_ms)`` of a trial, or None if it has no such results."""
    acc = trial.user_attrs.get(keys.ACCURACY)
    lat = trial.user_attrs.get(keys.LATENCY_MS)
    if acc is None or lat is None:
        return None
    return float(acc), float(lat)


def pareto_front(
    trials: list[FrozenTrial], max_latency_ms: float | None = None
) -> list[FrozenTrial]:
    """Non-dominated feasible trials, sorted by latency (fastest first).

    Trials without finite results are left out; equal points are all on the front.
    """
    pts = [
        (t, m)
        for t in trials
        if (m := metrics(t)) is not None and math.isfinite(m[0]) and math.isfinite(m[1])
    ]
    if max_latency_ms is not None:
        pts = [(t, m) for t, m in pts if m[1] <= max_latency_ms]
    if not pts:
        return []
    acc = np.array([m[0] for _, m in pts])
    lat = np.array([m[1] for _, m in pts])
    return [pts[i][0] for i in pareto.front_order_2d(acc, lat)]


def best_accuracy(trials: list[FrozenTrial], max_latency_ms: float | None = None) -> float | None:
    vals = [
        m[0]
        for t in trials
        if (m := metrics(t)) is not None and (max_latency_ms is None or m[1] <= max_latency_ms)
    ]
    return max(vals) if vals else None


def knee(front: list[FrozenTrial]) -> FrozenTrial | None:
    """The front point farthest from the line joining its two ends (see nas.pareto)."""
    if not front:
        return None
    pts = [metrics(t) for t in front]
    return front[pareto.knee_index_2d([m[0] for m in pts], [m[1] for m in pts])]  # type: ignore[index]
