"""nas.pareto against brute-force definitions, on seeded random points with many ties.

Hypothesis is not a dependency; each property runs on a few hundred seeded cases whose values
come from small integer grids, so ties and exact duplicates are common.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nas import pareto

CASES = 150


def _points(rng: np.random.Generator, n: int, m: int = 2, grid: int = 6) -> np.ndarray:
    return rng.integers(0, grid, size=(n, m)).astype(float)


def _brute_dominates(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def _brute_fronts(losses: np.ndarray) -> list[list[int]]:
    """Peel: the points no remaining point dominates, repeatedly."""
    left = list(range(len(losses)))
    out = []
    while left:
        f = [i for i in left if not any(_brute_dominates(losses[j], losses[i]) for j in left)]
        out.append(f)
        left = [i for i in left if i not in f]
    return out


@pytest.mark.parametrize("m", [1, 2, 3])
def test_fronts_match_peeling(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(CASES):
        losses = _points(rng, int(rng.integers(0, 25)), m)
        assert pareto.non_dominated_fronts(losses) == _brute_fronts(losses)


def test_dominates_is_strict_on_duplicates() -> None:
    assert not pareto.dominates([1.0, 2.0], [1.0, 2.0])
    assert pareto.dominates([1.0, 2.0], [1.0, 3.0])
    assert not pareto.dominates([0.0, 3.0], [1.0, 2.0])
    assert pareto.non_dominated_fronts([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]]) == [[0, 1], [2]]


def test_front_mask_2d_matches_brute_force_with_ties_and_duplicates() -> None:
    rng = np.random.default_rng(0)
    for _ in range(CASES):
        pts = _points(rng, int(rng.integers(0, 40)))
        acc, lat = pts[:, 0], pts[:, 1]
        slow = [
            not any(
                acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i])
                for j in range(len(acc))
            )
            for i in range(len(acc))
        ]
        assert pareto.front_mask_2d(acc, lat).tolist() == slow
        # the same as the first front of the general sort on losses (-acc, lat)
        first = pareto.non_dominated_fronts(np.stack([-acc, lat], axis=1))[:1]
        assert sorted(np.flatnonzero(slow).tolist()) == (first[0] if first else [])


def test_front_order_2d_is_the_brute_force_front_fastest_first() -> None:
    """Grids small and large (many ties and duplicates, or nearly none), n up to 300: the
    front is the brute-force set, ordered by latency, then accuracy descending, then index."""
    rng = np.random.default_rng(5)
    for case in range(CASES):
        n = int(rng.integers(0, 300 if case % 5 == 0 else 40))
        pts = _points(rng, n, grid=[3, 6, 50, 10**6][case % 4])
        acc, lat = pts[:, 0], pts[:, 1]
        on = [
            i
            for i in range(n)
            if not any(
                acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i])
                for j in range(n)
            )
        ]
        want = sorted(on, key=lambda i: (lat[i], -acc[i], i))
        assert pareto.front_order_2d(acc, lat).tolist() == want


def _brute_hypervolume(acc: np.ndarray, lat: np.ndarray, ref: float) -> float:
    """Exact area on the grid of the points' own coordinates: sum of dominated cells."""
    xs = sorted({*lat.tolist(), ref})
    ys = sorted({0.0, *acc.tolist()})
    area = 0.0
    for (x0, x1), (y0, y1) in itertools.product(itertools.pairwise(xs), itertools.pairwise(ys)):
        if x0 >= ref or y0 < 0:
            continue
        # the cell [x0, x1] x [y0, y1] is dominated if a point is faster and more accurate
        if any(lt <= x0 and a >= y1 for a, lt in zip(acc, lat, strict=True)):
            area += (x1 - x0) * (y1 - y0)
    return area


def test_hypervolume_2d_matches_cell_count() -> None:
    rng = np.random.default_rng(2)
    for _ in range(CASES):
        pts = _points(rng, int(rng.integers(0, 15)), grid=8)
        acc, lat = pts[:, 0] / 7.0, pts[:, 1]
        ref = float(rng.integers(1, 9))
        assert pareto.hypervolume_2d(acc, lat, ref) == pytest.approx(
            _brute_hypervolume(acc, lat, ref)
        )


def test_front2d_incremental_matches_the_batch_front_and_hypervolume() -> None:
    rng = np.random.default_rng(3)
    for _ in range(CASES):
        pts = _points(rng, int(rng.integers(1, 30)))
        front = pareto.Front2D()
        for k, (a, lt) in enumerate(pts, start=1):
            front.add(a, lt)
            seen = pts[:k]
            mask = pareto.front_mask_2d(seen[:, 0], seen[:, 1])
            assert sorted(front.points()) == sorted({(a, t) for a, t in seen[mask]})
            assert front.hypervolume(6.0) == pytest.approx(
                pareto.hypervolume_2d(seen[:, 0], seen[:, 1], 6.0)
            )
        for a, lt in _points(rng, 10):
            covered = any(fa >= a and fl <= lt for fa, fl in front.points())
            assert front.covers(a, lt) == covered


def test_front2d_bisect_matches_brute_force_on_long_runs() -> None:
    """The binary-search front against the brute-force set after every point, on runs of up
    to 200 points from coarse grids (ties, duplicates) and fine ones."""
    rng = np.random.default_rng(7)
    for case in range(40):
        pts = _points(rng, int(rng.integers(1, 200)), grid=[3, 10, 50, 10**6][case % 4])
        front = pareto.Front2D()
        for k, (a, lt) in enumerate(pts, start=1):
            seen = pts[:k]
            covered = any(fa >= a and fl <= lt for fa, fl in seen[:-1])
            assert front.add(a, lt) is not covered
            on = {
                (x, y)
                for x, y in seen
                if not any((u >= x and v <= y) and (u > x or v < y) for u, v in seen)
            }
            assert sorted(front.points()) == sorted(on)


def test_feasible_fronts_rank_only_feasible_points() -> None:
    rng = np.random.default_rng(4)
    for _ in range(CASES):
        n = int(rng.integers(0, 20))
        losses = _points(rng, n)
        feasible = (rng.random(n) < 0.6).tolist()
        # infeasible points may have losses that could not be ranked
        losses[[i for i in range(n) if not feasible[i]], :] = np.nan
        idx = [i for i in range(n) if feasible[i]]
        want = [[idx[j] for j in f] for f in _brute_fronts(losses[idx])]
        assert pareto.feasible_fronts(losses, feasible) == want
    with pytest.raises(ValueError, match="feasibility"):
        pareto.feasible_fronts([[1.0, 2.0]], [True, False])


def test_crowding_ends_are_infinite_and_interior_sums_normalised_gaps() -> None:
    assert pareto.crowding([[0.0, 1.0], [1.0, 0.0]]) == [math.inf, math.inf]
    d = pareto.crowding([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]])
    assert d[0] == d[3] == math.inf
    assert d[1] == pytest.approx(2 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 2 / 4)


def test_knee_is_the_point_farthest_from_the_chord() -> None:
    # fastest first; (0.9, 2) bulges most above the line from (0.5, 1) to (0.95, 10)
    acc, lat = [0.5, 0.9, 0.93, 0.95], [1.0, 2.0, 6.0, 10.0]
    assert pareto.knee_index_2d(acc, lat) == 1
    assert pareto.knee_index_2d([0.5, 0.7], [1.0, 2.0]) == 1  # two points: most accurate
    with pytest.raises(ValueError):
        pareto.knee_index_2d([], [])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.non_dominated_fronts([[0.0, 1.0], [bad, 2.0]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.front_mask_2d([0.5, bad], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.front_order_2d([0.5, 0.4], [bad, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.hypervolume_2d([0.5], [bad], 10.0)
    with pytest.raises(ValueError, match="finite"):
        pareto.hypervolume_2d([0.5], [1.0], bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.Front2D().add(bad, 1.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        pareto.crowding([[0.0, 1.0], [bad, 2.0], [1.0, 0.0]])
