from __future__ import annotations

import math

import numpy as np
import pytest
from optuna.trial import create_trial

from nas.analysis.anytime import history
from nas.pareto import hypervolume_2d
from nas.storage import keys


def _t(n: int, acc: float, lat: float):
    t = create_trial(values=[acc, lat], user_attrs={keys.ACCURACY: acc, keys.LATENCY_MS: lat})
    t.number = n
    return t


def test_hypervolume_of_known_fronts() -> None:
    # one point: a rectangle
    assert hypervolume_2d(np.array([0.5]), np.array([2.0]), 10.0) == pytest.approx(4.0)
    # staircase: (0.5, 2) and (0.8, 6) up to ref 10: 0.5*4 + 0.8*4
    acc, lat = np.array([0.5, 0.8, 0.4]), np.array([2.0, 6.0, 5.0])
    assert hypervolume_2d(acc, lat, 10.0) == pytest.approx(0.5 * 4 + 0.8 * 4)
    # points beyond the reference add nothing
    assert hypervolume_2d(np.array([0.9]), np.array([12.0]), 10.0) == 0.0


def test_hypervolume_against_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    acc, lat = rng.random(30), rng.random(30) * 10
    exact = hypervolume_2d(acc, lat, 10.0)
    u = rng.random((200_000, 2)) * [1.0, 10.0]
    dominated = ((acc[None, :] >= u[:, :1]) & (lat[None, :] <= u[:, 1:])).any(axis=1)
    assert exact == pytest.approx(dominated.mean() * 10.0, rel=0.02)


def test_history_is_monotone_and_respects_the_constraint() -> None:
    trials = [_t(0, 0.5, 5), _t(1, 0.4, 2), _t(2, 0.9, 20), _t(3, 0.7, 4)]
    h = history(trials, ref_ms=30.0)
    assert [p.best_accuracy for p in h] == [0.5, 0.5, 0.9, 0.9]
    hv = [p.hypervolume for p in h]
    assert hv == sorted(hv) and hv[-1] > hv[0]
    capped = history(trials, ref_ms=30.0, max_latency_ms=10)
    assert [p.best_accuracy for p in capped] == [0.5, 0.5, 0.5, 0.7]
    assert capped[2].hypervolume == capped[1].hypervolume
    assert math.isnan(history([_t(0, 0.9, 50)], max_latency_ms=10)[0].best_accuracy)
