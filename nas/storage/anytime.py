"""Anytime results: best-so-far accuracy and dominated hypervolume after every trial.

Hypervolume is the area dominated by the Pareto front in the (accuracy, latency) plane,
bounded by a *reference point* ``(accuracy 0, latency ref_ms)``: the area of points with
accuracy in ``[0, acc]`` and latency in ``[lat, ref_ms]`` for some front member. Unless given,
``ref_ms`` is the study's ``max_latency_ms`` when it has one, else 1.1x the slowest completed
trial of the study; pass the same ``ref_ms`` to compare studies with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from nas.storage.results import metrics, pareto_mask


def hypervolume_2d(acc: np.ndarray, lat: np.ndarray, ref_ms: float) -> float:
    """Area dominated by the points (maximise acc, minimise lat) up to ``(0, ref_ms)``."""
    keep = (lat < ref_ms) & (acc > 0)
    acc, lat = acc[keep], lat[keep]
    if len(acc) == 0:
        return 0.0
    mask = pareto_mask(acc, lat)
    a, lt = acc[mask], lat[mask]
    order = np.argsort(lt)  # fastest first; accuracy rises along the front
    a, lt = a[order], lt[order]
    right = np.append(lt[1:], ref_ms)
    return float(np.sum(a * (right - lt)))


@dataclass(frozen=True)
class AnytimePoint:
    trial: int  # trial number
    completed: int  # completed trials so far
    best_accuracy: float
    hypervolume: float


def default_reference(trials: list[FrozenTrial], max_latency_ms: float | None = None) -> float:
    if max_latency_ms is not None:
        return float(max_latency_ms)
    lats = [m[1] for t in trials if (m := metrics(t)) is not None]
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
    # is not dominated: keep the front and recompute over it then (5,000 trials: ms, not s).
    f_acc = np.empty(0)
    f_lat = np.empty(0)
    hv = 0.0
    best = float("-inf")
    for k, t in enumerate(done, start=1):
        acc, lat = metrics(t)  # type: ignore[misc]
        if max_latency_ms is None or lat <= max_latency_ms:
            best = max(best, acc)
            if not np.any((f_acc >= acc) & (f_lat <= lat)):
                f_acc, f_lat = np.append(f_acc, acc), np.append(f_lat, lat)
                keep = pareto_mask(f_acc, f_lat)
                f_acc, f_lat = f_acc[keep], f_lat[keep]
                hv = hypervolume_2d(f_acc, f_lat, ref)
        out.append(AnytimePoint(t.number, k, best if len(f_acc) else float("nan"), hv))
    return out
