"""``fastread.load_trials`` returns what Optuna's own loader returns, field by field."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from nas.errors import StorageError
from nas.storage import Store
from nas.storage.fastread import load_trials
from tests.conftest import TINY
from tests.dashboard.synthetic import make_study


def test_fast_trials_equal_optuna_trials(storage_url: str) -> None:
    study = make_study(storage_url, "s", 5, space=str(TINY), running=1, failed=1)
    extra = study.ask()  # a trial Optuna writes itself, with an infinite value
    extra.suggest_categorical("stage0.depth", [1, 2, 3])
    extra.set_user_attr("note", {"nested": [1, 2.5, "x"]})
    study.tell(extra, [math.inf, -math.inf])
    theirs = optuna.load_study(study_name="s", storage=storage_url).get_trials()
    ours = load_trials(Store(storage_url, read_only=True), "s")
    assert len(ours) == len(theirs) == 8
    for a, b in zip(ours, theirs, strict=True):
        assert (a.number, a.state, a.values, a._trial_id) == (
            b.number,
            b.state,
            b.values,
            b._trial_id,
        )
        assert (a.datetime_start, a.datetime_complete) == (b.datetime_start, b.datetime_complete)
        assert a.params == b.params and a.distributions == b.distributions
        assert a.user_attrs == b.user_attrs
    assert ours[-1].values == [math.inf, -math.inf]
    assert {t.state for t in ours} == {TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL}
    bare = load_trials(Store(storage_url, read_only=True), "s", params=False)
    assert [t.params for t in bare] == [{}] * 8
    assert [t.user_attrs for t in bare] == [t.user_attrs for t in theirs]


def test_missing_study_is_a_storage_error(storage_url: str) -> None:
    make_study(storage_url, "s", 1, space=str(TINY))
    with pytest.raises(StorageError, match="no study named 'x'"):
        load_trials(Store(storage_url, read_only=True), "x")


def test_read_front_equals_the_front_of_optunas_trials(storage_url: str) -> None:
    """``read_front`` (two attributes of each trial, then the front's trials) returns the front
    that ``pareto_front`` finds in every trial Optuna loads: ties, duplicates, a trial without
    a latency, one with a NaN and one with a null accuracy left out, the study's latency cap
    applied; its counts and study attributes are Optuna's."""
    for name, cap in (("s", None), ("capped", 0.65)):
        _check_read_front(storage_url, name, cap)


def _check_read_front(storage_url: str, name: str, max_latency_ms: float | None) -> None:
    from nas.analysis.results import pareto_front
    from nas.storage import keys
    from nas.storage.fastread import read_front

    study = make_study(
        storage_url, name, 60, space=str(TINY), running=2, failed=3, max_latency_ms=max_latency_ms
    )
    trials = study.get_trials()
    for k, attrs in enumerate(
        (
            {keys.ACCURACY: 0.99},  # no latency: left out
            {keys.ACCURACY: math.nan, keys.LATENCY_MS: 0.01},  # NaN: left out
            {keys.ACCURACY: None, keys.LATENCY_MS: 0.01},  # null: left out
            {k: trials[0].user_attrs[k] for k in (keys.ACCURACY, keys.LATENCY_MS, keys.ARCH)},
            {k: trials[0].user_attrs[k] for k in (keys.ACCURACY, keys.LATENCY_MS)},
        )
    ):
        t = study.ask()
        for key, value in attrs.items():
            t.set_user_attr(key, value)
        study.tell(t, [0.5, 1.0 + k])
    theirs = optuna.load_study(study_name=name, storage=storage_url).get_trials()
    complete = [t for t in theirs if t.state == TrialState.COMPLETE]
    want = pareto_front(complete, max_latency_ms)
    store = Store(storage_url, read_only=True)
    got = read_front(store, name)
    store.engine.dispose()
    assert [t.number for t in got.front] == [t.number for t in want]
    assert [t.user_attrs for t in got.front] == [t.user_attrs for t in want]
    assert len(want) >= 3
    assert got.states == {s: sum(t.state == s for t in theirs) for s in {t.state for t in theirs}}
    assert got.attrs == study.user_attrs


def test_last_complete_reads_the_tail_from_the_nth_last_complete_trial(storage_url: str) -> None:
    make_study(storage_url, "s", 6, space=str(TINY), running=1, failed=1)  # 6, 7 unfinished
    store = Store(storage_url, read_only=True)
    every = load_trials(store, "s")
    for n, first in ((1, 5), (3, 3), (6, 0), (50, 0)):
        tail = load_trials(store, "s", last_complete=n)
        assert [t.number for t in tail] == list(range(first, 8))
        assert [(t.values, t.params, t.user_attrs) for t in tail] == [
            (t.values, t.params, t.user_attrs) for t in every[first:]
        ]
