"""Pure functions over stored trials: the Pareto front, best-so-far, summaries.

Fronts are computed from the ``accuracy`` and ``latency_ms`` user attributes, so a
weighted-objective study has a front too; infeasible trials (latency over the study's
``max_latency_ms``) are left out.
"""

from __future__ import annotations

import numpy as np
from optuna.trial import FrozenTrial

from nas.storage import keys


def metrics(trial: FrozenTrial) -> tuple[float, float] | None:
    """``(accuracy, latency_ms)`` of a trial, or None if it has no such results."""
    acc = trial.user_attrs.get(keys.ACCURACY)
    lat = trial.user_attrs.get(keys.LATENCY_MS)
    if acc is None or lat is None:
        return None
    return float(acc), float(lat)


def pareto_mask(acc: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where no other point has accuracy >= and latency <= with one strictly better.

    O(n log n): sort by latency (ties: higher accuracy first) and keep each point that beats
    the best accuracy seen so far.
    """
    n = len(acc)
    mask = np.zeros(n, dtype=bool)
    order = np.lexsort((-acc, lat))
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


def pareto_front(
    trials: list[FrozenTrial], max_latency_ms: float | None = None
) -> list[FrozenTrial]:
    """Non-dominated feasible trials, sorted by latency (fastest first)."""
    pts = [(t, m) for t in trials if (m := metrics(t)) is not None]
    if max_latency_ms is not None:
        pts = [(t, m) for t, m in pts if m[1] <= max_latency_ms]
    if not pts:
        return []
    acc = np.array([m[0] for _, m in pts])
    lat = np.array([m[1] for _, m in pts])
    mask = pareto_mask(acc, lat)
    front = [pts[i] for i in np.flatnonzero(mask)]
    return [t for t, _ in sorted(front, key=lambda p: (p[1][1], -p[1][0]))]


def best_accuracy(trials: list[FrozenTrial], max_latency_ms: float | None = None) -> float | None:
    vals = [
        m[0]
        for t in trials
        if (m := metrics(t)) is not None and (max_latency_ms is None or m[1] <= max_latency_ms)
    ]
    return max(vals) if vals else None


def knee(front: list[FrozenTrial]) -> FrozenTrial | None:
    """The front point farthest from the line joining its two ends (normalised axes)."""
    if not front:
        return None
    if len(front) <= 2:
        return max(front, key=lambda t: metrics(t)[0])  # type: ignore[index]
    pts = np.array([metrics(t) for t in front], dtype=float)  # (n, 2): acc, lat
    span = pts.max(axis=0) - pts.min(axis=0)
    span[span == 0] = 1.0
    p = (pts - pts.min(axis=0)) / span
    a, b = p[0], p[-1]
    u, v = b - a, p - a  # 2-D cross product by hand (np.cross on 2-D vectors is deprecated)
    d = np.abs(u[0] * v[:, 1] - u[1] * v[:, 0]) / (np.linalg.norm(u) or 1.0)
    return front[int(np.argmax(d))]
