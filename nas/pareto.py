"""Pareto dominance, ranks, crowding, the knee and the 2-D hypervolume: the one place for them.

A leaf (numpy only, no ``nas`` imports), so storage, strategies, evaluators, the dashboard and
the service all use these same definitions:

- Points are *losses* (smaller is better in every coordinate) for the general functions;
  the ``*_2d`` functions take ``(accuracy, latency_ms)``: maximise accuracy, minimise latency.
- ``a`` dominates ``b`` when it is no worse in every coordinate and better in one. Equal points
  do not dominate each other, so duplicates are all on the front (as in Optuna's
  ``Study.best_trials``).
- NaN and infinite values are refused with ``ValueError``: callers decide what a trial without
  finite results means (storage leaves it off the front, evolution ranks it last).

Why not Optuna: its public API has ``Study.best_trials`` (the front of a study's own objective
values) but no function over arbitrary points, and its non-dominated sort and hypervolume
(``optuna.study._multi_objective``, ``optuna._hypervolume``) are private. The 2-D cases here are
a sort and a sweep, smaller than a compat shim around private code.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np


def finite(points: Sequence[Sequence[float]] | np.ndarray, what: str = "points") -> np.ndarray:
    """``points`` as a float array of shape (n, m), or ValueError if any value is not finite."""
    arr = np.asarray(points, dtype=float)
    if arr.size == 0:
        return arr.reshape(0, arr.shape[1] if arr.ndim == 2 else 0)
    if arr.ndim != 2:
        raise ValueError(f"{what}: expected one row per point, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: NaN or infinite values cannot be ranked")
    return arr


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Loss vector ``a`` is no worse than ``b`` in every coordinate and better in one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def non_dominated_fronts(losses: Sequence[Sequence[float]] | np.ndarray) -> list[list[int]]:
    """Indices grouped by Pareto rank, best front first, each front in index order.

    Quadratic (Deb's fast non-dominated sort); populations and studies are small.
    """
    arr = finite(losses, "losses")
    n = len(arr)
    if n == 0:
        return []
    # dom[i, j]: i dominates j
    le = np.all(arr[:, None, :] <= arr[None, :, :], axis=2)
    lt = np.any(arr[:, None, :] < arr[None, :, :], axis=2)
    dom = le & lt
    count = dom.sum(axis=0)
    fronts: list[list[int]] = []
    current = np.flatnonzero(count == 0)
    while len(current):
        fronts.append([int(i) for i in current])
        count = count - dom[current].sum(axis=0)
        count[current] = -1  # placed
        current = np.flatnonzero(count == 0)
    return fronts


def feasible_fronts(
    losses: Sequence[Sequence[float]] | np.ndarray, feasible: Sequence[bool]
) -> list[list[int]]:
    """Pareto fronts of the feasible points only, as indices into ``losses``.

    Deb's constrained domination: a feasible point dominates every infeasible one, so the
    infeasible points (ordered by their violation, which the caller knows) come after every
    front returned here and are not ranked against each other by their losses, which need not
    be finite.
    """
    if len(feasible) != len(losses):
        raise ValueError(f"{len(losses)} points but {len(feasible)} feasibility flags")
    idx = [i for i in range(len(losses)) if feasible[i]]
    return [[idx[j] for j in f] for f in non_dominated_fronts([losses[i] for i in idx])]


def crowding(losses: Sequence[Sequence[float]] | np.ndarray) -> list[float]:
    """NSGA-II crowding distance of each point of one front (boundary points: infinity)."""
    arr = finite(losses, "losses")
    n = len(arr)
    if n <= 2:
        return [math.inf] * n
    dist = [0.0] * n
    for m in range(arr.shape[1]):
        order = sorted(range(n), key=lambda i: arr[i, m])
        lo, hi = arr[order[0], m], arr[order[-1], m]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for k in range(1, n - 1):
            dist[order[k]] += float(arr[order[k + 1], m] - arr[order[k - 1], m]) / (hi - lo)
    return dist


def _acc_lat(acc: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray):
    a, lt = np.asarray(acc, dtype=float), np.asarray(lat, dtype=float)
    if a.shape != lt.shape or a.ndim != 1:
        raise ValueError(f"accuracy and latency: shapes {a.shape} and {lt.shape} differ")
    finite(np.stack([a, lt], axis=1), "(accuracy, latency)")
    return a, lt


def front_mask_2d(acc: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray):
    """True where no other point has accuracy >= and latency <= with one strictly better.

    O(n log n), a sort and a sweep: in latency order (ties: higher accuracy first) a point is
    on the front when its accuracy beats every point before its run of equal points, so
    equal points (duplicates) are all kept or all dropped. The sweep is a running maximum
    (numpy), not a Python loop: 50,000 points take milliseconds.
    """
    a, lt = _acc_lat(acc, lat)
    n = len(a)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-a, lt))
    sa, sl = a[order], lt[order]
    before = np.concatenate(([-np.inf], np.maximum.accumulate(sa)[:-1]))  # best acc earlier
    starts = np.ones(n, dtype=bool)  # the first point of each run of equal points
    starts[1:] = (sa[1:] != sa[:-1]) | (sl[1:] != sl[:-1])
    first = np.flatnonzero(starts)[np.cumsum(starts) - 1]  # each point's run start
    mask = np.zeros(n, dtype=bool)
    mask[order] = sa[first] > before[first]
    return mask


def front_order_2d(
    acc: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Indices of the front points (see :func:`front_mask_2d`), fastest first; equal latencies
    most accurate first, then in index order."""
    a, lt = _acc_lat(acc, lat)
    idx = np.flatnonzero(front_mask_2d(a, lt))
    return idx[np.lexsort((-a[idx], lt[idx]))]


def hypervolume_2d(
    acc: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray, ref_ms: float
) -> float:
    """Area dominated by the points (maximise acc, minimise lat) up to ``(0, ref_ms)``.

    Points at or beyond the reference (latency >= ``ref_ms`` or accuracy <= 0) add nothing.
    """
    if not math.isfinite(ref_ms):
        raise ValueError(f"hypervolume reference latency must be finite, got {ref_ms}")
    a, lt = _acc_lat(acc, lat)
    keep = (lt < ref_ms) & (a > 0)
    a, lt = a[keep], lt[keep]
    if len(a) == 0:
        return 0.0
    mask = front_mask_2d(a, lt)
    a, lt = a[mask], lt[mask]
    order = np.lexsort((-a, lt))  # fastest first; accuracy rises along the front
    a, lt = a[order], lt[order]
    right = np.append(lt[1:], ref_ms)
    return float(np.sum(a * (right - lt)))


def knee_index_2d(acc: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray) -> int:
    """Index of the knee of a front given in latency order (fastest first).

    The point farthest from the line joining the front's two ends on axes normalised to
    [0, 1]; with one or two points, the most accurate one. ValueError on an empty front.
    """
    a, lt = _acc_lat(acc, lat)
    if len(a) == 0:
        raise ValueError("the knee of an empty front")
    if len(a) <= 2:
        return int(np.argmax(a))
    pts = np.stack([a, lt], axis=1)
    span = pts.max(axis=0) - pts.min(axis=0)
    span[span == 0] = 1.0
    p = (pts - pts.min(axis=0)) / span
    u, v = p[-1] - p[0], p - p[0]  # 2-D cross product by hand (np.cross on 2-D is deprecated)
    d = np.abs(u[0] * v[:, 1] - u[1] * v[:, 0]) / (np.linalg.norm(u) or 1.0)
    return int(np.argmax(d))


class Front2D:
    """An incrementally kept (accuracy, latency) front: ``add`` a point, ask ``covers``.

    Keeps one copy of equal points (a duplicate adds no area and cannot enter twice). The
    front is held in latency order, where its accuracy rises strictly, so both questions are
    a binary search (``bisect``): O(log n) a point, where a scan of the front per point made
    the anytime history of a 50,000-trial study take seconds.
    """

    def __init__(self) -> None:
        self._acc: list[float] = []  # strictly rising
        self._lat: list[float] = []  # strictly rising

    def __len__(self) -> int:
        return len(self._acc)

    @property
    def acc(self) -> np.ndarray:
        return np.array(self._acc, dtype=float)

    @property
    def lat(self) -> np.ndarray:
        return np.array(self._lat, dtype=float)

    def covers(self, accuracy: float, latency_ms: float) -> bool:
        """Some point of the front is at least as accurate and at least as fast."""
        if not (math.isfinite(accuracy) and math.isfinite(latency_ms)):  # as _acc_lat, faster
            raise ValueError("(accuracy, latency): NaN or infinite values cannot be ranked")
        i = bisect.bisect_right(self._lat, latency_ms) - 1  # the most accurate that fast
        return i >= 0 and self._acc[i] >= accuracy

    def add(self, accuracy: float, latency_ms: float) -> bool:
        """Add the point unless covered; drop the points it covers. True if the front changed."""
        if self.covers(accuracy, latency_ms):
            return False
        # the points it covers: from the first as slow or slower, up to the first more accurate
        j = bisect.bisect_left(self._lat, latency_ms)
        k = bisect.bisect_right(self._acc, accuracy, lo=j)
        self._acc[j:k] = [float(accuracy)]
        self._lat[j:k] = [float(latency_ms)]
        return True

    def points(self) -> list[tuple[float, float]]:
        return list(zip(self._acc, self._lat, strict=True))

    def hypervolume(self, ref_ms: float) -> float:
        return hypervolume_2d(self._acc, self._lat, ref_ms)
