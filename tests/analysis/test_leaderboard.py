"""The scorer leaderboard's statistics on synthetic references whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from nas.analysis.leaderboard import (
    bootstrap,
    evaluate,
    markdown,
    precision_at,
    rank_ensemble,
    top_tau,
)

TRUTH = np.linspace(0.80, 0.90, 40)  # 40 reference architectures, all distinct


def test_a_known_order_gives_tau_one_and_a_reversed_one_minus_one() -> None:
    same = evaluate("same", TRUTH * 3 + 1, TRUTH)  # any increasing map
    rev = evaluate("reversed", -TRUTH, TRUTH)
    assert same.tau.value == pytest.approx(1.0) and same.rho.value == pytest.approx(1.0)
    assert rev.tau.value == pytest.approx(-1.0) and rev.rho.value == pytest.approx(-1.0)
    assert same.top_tau == pytest.approx(1.0) and rev.top_tau == pytest.approx(-1.0)
    assert same.precision == 1.0 and rev.precision == 0.0
    # a perfect order has no spread to resample
    assert same.tau.low == pytest.approx(1.0) and rev.tau.high == pytest.approx(-1.0)


def test_the_interval_covers_the_estimate_and_shrinks_with_more_architectures() -> None:
    rng = np.random.default_rng(3)

    def width(n: int) -> float:
        truth = rng.normal(size=n)
        score = truth + rng.normal(size=n)  # a noisy scorer
        iv = bootstrap(score, truth, "tau", seed=1)
        assert iv.low <= iv.value <= iv.high
        return iv.high - iv.low

    assert width(400) < width(40) / 2
    # the same seed resamples the same way: the interval is reproducible
    score = TRUTH + rng.normal(scale=0.02, size=40)
    assert bootstrap(score, TRUTH, seed=5) == bootstrap(score, TRUTH, seed=5)


def test_top_tau_looks_only_at_the_best_fifth() -> None:
    score = TRUTH.copy()
    score[-8:] = score[-8:][::-1]  # the best 8 (20 % of 40) in reverse order; the rest right
    assert top_tau(score, TRUTH) == pytest.approx(-1.0)
    assert evaluate("s", score, TRUTH).tau.value > 0.5


def test_precision_counts_ties_against_the_scorer() -> None:
    assert precision_at(np.zeros(40), TRUTH) == 0.0  # a constant score finds nothing
    score = np.zeros(40)
    score[[39, 38, 0, 1]] = 1.0  # the top 4 by score: two of the true top 4
    assert precision_at(score, TRUTH) == 0.5


def test_the_rank_ensemble_averages_ranks_not_values() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([400.0, 300.0, 200.0, 100.0])  # another scale, the opposite order
    assert rank_ensemble(a, b).tolist() == [2.5, 2.5, 2.5, 2.5]
    assert rank_ensemble(a, a * 1e6).tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError):
        rank_ensemble()


def test_the_table_puts_the_best_scorer_first_and_keeps_the_numbers() -> None:
    rows = [evaluate("worse", -TRUTH, TRUTH), evaluate("better", TRUTH, TRUTH, seconds=0.5)]
    table = markdown(rows).splitlines()
    assert table[2].startswith("| better | 40 | 1.00 [1.00, 1.00]")
    assert table[3].startswith("| worse | 40 | -1.00")
    assert table[2].endswith("| 0.5 |") and table[3].endswith("| - |")
