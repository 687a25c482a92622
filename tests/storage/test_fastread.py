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
