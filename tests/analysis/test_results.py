from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState, create_trial

from nas.analysis.results import knee, pareto_front
from nas.storage import keys


def _trial(number: int, acc: float, lat: float):
    t = create_trial(
        state=TrialState.COMPLETE,
        values=[acc, lat],
        user_attrs={keys.ACCURACY: acc, keys.LATENCY_MS: lat},
    )
    t.number = number
    return t


def test_front_keeps_duplicates_and_leaves_out_non_finite_results() -> None:
    trials = [
        _trial(0, 0.8, 5.0),
        _trial(1, 0.8, 5.0),  # a duplicate: as much on the front as trial 0
        _trial(2, 0.7, 6.0),
        _trial(3, 0.9, 1.0),
        _trial(4, 0.99, 2.0),
    ]
    # results stored by hand or by an older version: not finite, not on the front
    trials[3].user_attrs[keys.ACCURACY] = float("nan")
    trials[4].user_attrs[keys.LATENCY_MS] = float("inf")
    assert [t.number for t in pareto_front(trials)] == [0, 1]
    assert [t.number for t in pareto_front(trials, max_latency_ms=4.0)] == []


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
