from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState, create_trial

from nas.storage import keys
from nas.storage.results import knee, pareto_front, pareto_mask


def _trial(number: int, acc: float, lat: float):
    t = create_trial(
        state=TrialState.COMPLETE,
        values=[acc, lat],
        user_attrs={keys.ACCURACY: acc, keys.LATENCY_MS: lat},
    )
    t.number = number
    return t


def test_pareto_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 20, 300).astype(float)
    lat = rng.integers(0, 20, 300).astype(float)
    fast = pareto_mask(acc, lat)
    slow = np.array(
        [
            not any(
                (acc[j] >= acc[i] and lat[j] <= lat[i]) and (acc[j] > acc[i] or lat[j] < lat[i])
                for j in range(len(acc))
            )
            for i in range(len(acc))
        ]
    )
    # exact duplicates of a front point: brute force keeps all, the sweep keeps one
    for i in np.flatnonzero(slow & ~fast):
        assert any(fast[j] and acc[j] == acc[i] and lat[j] == lat[i] for j in range(len(acc)))
    assert not np.any(fast & ~slow)


def test_front_respects_the_latency_constraint_and_sorts_by_latency() -> None:
    trials = [_trial(0, 0.9, 10), _trial(1, 0.8, 5), _trial(2, 0.7, 6), _trial(3, 0.95, 20)]
    assert [t.number for t in pareto_front(trials)] == [1, 0, 3]
    assert [t.number for t in pareto_front(trials, max_latency_ms=12)] == [1, 0]
    assert pareto_front(trials, max_latency_ms=1) == []


def test_knee_picks_the_bend() -> None:
    front = [_trial(0, 0.50, 1), _trial(1, 0.90, 2), _trial(2, 0.92, 10)]
    assert knee(front).number == 1
    assert knee([]) is None


def test_optuna_agrees_on_the_front() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    rng = np.random.default_rng(1)
    for _ in range(60):
        a, lat = float(rng.random()), float(rng.random())
        study.add_trial(
            create_trial(values=[a, lat], user_attrs={keys.ACCURACY: a, keys.LATENCY_MS: lat})
        )
    ours = {t.number for t in pareto_front(study.trials)}
    assert ours == {t.number for t in study.best_trials}
