"""A worker whose trial another worker failed as stale (its heartbeat came late) goes on.

On a loaded machine a live worker's heartbeat can miss the grace period; another worker then
fails its RUNNING trial and re-queues it. Optuna's ``tell`` of the late result raised out of
``study.optimize`` (``Cannot tell a FAIL trial``, or its internal ``Should not reach.`` after
a successful objective) and the worker died (the flake of
``test_four_workers_racing...[sqlite]``). Here the reaping is done by hand at the two moments
it can happen, in one process, so the outcome does not depend on timing.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.evaluators.synthetic import SyntheticEvaluator
from nas.objective import TrialObjective
from nas.options import SearchOptions
from nas.search import run_search
from nas.storage import keys
from nas.storage import optuna_compat as compat
from tests.conftest import TINY


def _reap(url: str) -> int:
    """What another worker's ``fail_stale`` does to a trial with a late heartbeat."""
    study = optuna.load_study(study_name="lost", storage=url)
    [t] = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    storage = compat.storage_of(study)
    assert storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    callback = compat.stale_trial_callback(study)
    assert callback is not None  # nas's: re-queue the trial
    callback(study, copy.deepcopy(storage.get_trial(t._trial_id)))
    return t.number


@pytest.mark.parametrize("moment", ["during evaluation", "after the objective returned"])
def test_a_worker_whose_trial_was_failed_as_stale_goes_on_to_the_budget(
    moment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    url = f"sqlite:///{tmp_path / 'db.db'}"
    reaped: list[int] = []
    evaluate, values = SyntheticEvaluator.evaluate, TrialObjective.values

    def late_evaluate(self, arch, h):  # type: ignore[no-untyped-def]
        if moment == "during evaluation" and not reaped:
            reaped.append(_reap(url))
        return evaluate(self, arch, h)

    def late_values(self, ev):  # type: ignore[no-untyped-def]
        if moment == "after the objective returned" and not reaped:
            reaped.append(_reap(url))  # every attribute is set: only the tell is left
        return values(self, ev)

    monkeypatch.setattr(SyntheticEvaluator, "evaluate", late_evaluate)
    monkeypatch.setattr(TrialObjective, "values", late_values)
    opts = SearchOptions(
        space=str(TINY), evaluator="synthetic", budget=4, storage=url, study="lost", seed=3
    )
    with caplog.at_level(logging.WARNING, logger="nas.loop"):
        run_search(opts)
    [n] = reaped
    assert f"trial {n} was failed as stale by another worker" in caplog.text
    trials = optuna.load_study(study_name="lost", storage=url).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({t.user_attrs[keys.ARCH_HASH] for t in complete}) == 4
    assert trials[n].state == TrialState.FAIL
    # the re-queued copy of the reaped trial was evaluated in its place
    assert any(
        t.system_attrs.get("failed_trial") == trials[n]._trial_id and t.state.is_finished()
        for t in trials
    ), [(t.number, t.state, t.system_attrs) for t in trials]


def test_the_objectives_own_error_still_ends_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self, arch, h):  # type: ignore[no-untyped-def]
        raise ValueError("a bug in an evaluator")

    monkeypatch.setattr(SyntheticEvaluator, "evaluate", broken)
    url = f"sqlite:///{tmp_path / 'db.db'}"
    opts = SearchOptions(space=str(TINY), evaluator="synthetic", budget=2, storage=url, study="e")
    with pytest.raises(ValueError, match="a bug in an evaluator"):
        run_search(opts)
