"""A worker whose running trial another worker's stale-trial sweep failed drops its late result
and goes on (issue 25 item 2), on each back-end.

The race is made deterministic: "another worker" (its own Store, in a thread) sweeps while this
worker's trial is at a chosen point -- in ``suggest``, in the evaluation, or after its last
write and before the tell -- with its owner taken for dead, so its sweep fails the trial at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from nas.evaluators.base import Evaluation, Evaluator
from nas.reporting import SilentReporter
from nas.search import objective as objective_module
from nas.search.loop import optimize_until_budget
from nas.search.objective import TrialObjective
from nas.storage import Store, coordination, keys
from nas.storage import studies as st
from nas.storage.coordination import slot_holders
from nas.storage.fastread import load_trials
from nas.storage.studies import StudySettings

BUDGET = 4


class _Stub(Evaluator):
    """Scores from the hash; runs ``during`` inside its first evaluation."""

    name = "stub"

    def __init__(self, during: Callable[[], None] | None) -> None:
        self.during = during
        self.calls = 0

    def evaluate(self, arch: dict[str, Any], arch_hash: str) -> Evaluation:
        self.calls += 1
        if self.calls == 1 and self.during is not None:
            self.during()
        return Evaluation(accuracy=int(arch_hash[:4], 16) / 65536, latency_ms=1.0 + self.calls)


def _other_worker_sweeps(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another worker's stale-trial sweep, in its own thread and engine, that takes the owner
    of every running trial for dead (as after a late heartbeat); waits until it is done."""

    def sweep() -> None:
        other = optuna.load_study(study_name="s", storage=Store(url).optuna)
        coordination.fail_stale(other)

    with monkeypatch.context() as m:
        m.setattr(coordination, "certainly_dead", lambda worker: True)
        t = threading.Thread(target=sweep)
        t.start()
        t.join()


# the worker drops the late result of a trial another worker failed, and goes on
@pytest.mark.parametrize("moment", ["suggest", "evaluation", "before-tell"])
def test_taken_over_trial_is_dropped(
    storage_url: str,
    tiny_space,
    moment: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store(storage_url)
    settings = StudySettings(
        space="tiny", space_digest="d", data="table:t.csv", data_fingerprint="f",
        strategy="random", objective="pareto", target="table:latency_ms",
        evaluator="supernet", latency_weight=-0.07, seed=0,
    )  # fmt: skip
    study = st.create_or_resume(store, "s", settings, budget=BUDGET)
    study.sampler = optuna.samplers.RandomSampler(seed=0)
    swept = []

    def takeover() -> None:
        if not swept:  # once: the first trial
            swept.append(True)
            _other_worker_sweeps(storage_url, monkeypatch)

    evaluator = _Stub(takeover if moment == "evaluation" else None)
    objective = TrialObjective(tiny_space, evaluator, settings, study, store=store, budget=BUDGET)
    if moment == "suggest":
        real_suggest = objective_module.suggest

        def suggest_late(trial: optuna.Trial, space: Any) -> dict[str, Any]:
            takeover()
            return real_suggest(trial, space)

        monkeypatch.setattr(objective_module, "suggest", suggest_late)
    elif moment == "before-tell":
        real_values = objective.values

        def values_late(ev: Evaluation) -> list[float] | float:
            takeover()  # after the trial's last set_user_attr, before Optuna's tell
            return real_values(ev)

        monkeypatch.setattr(objective, "values", values_late)

    with caplog.at_level(logging.WARNING, logger="nas.search.loop"):
        done = optimize_until_budget(study, objective, BUDGET, SilentReporter())

    assert swept
    assert done == BUDGET
    assert any("stale-trial sweep" in r.getMessage() for r in caplog.records)
    trials = load_trials(Store(storage_url), "s")  # a fresh reader: what every other one sees
    assert trials[0].state == TrialState.FAIL
    assert trials[0].user_attrs[keys.FAIL_REASON] == keys.STALE_REASON
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == BUDGET
    assert len({t.user_attrs[keys.ARCH_HASH] for t in complete}) == BUDGET
    by_id = {t._trial_id: t for t in trials}
    holders = slot_holders(store, "s").values()
    assert [by_id[h].state for h in holders] == [TrialState.COMPLETE] * BUDGET
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_the_heartbeat_thread_runs_until_the_trial_is_told(
    storage_url: str, tiny_space, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Study.optimize stopped the heartbeat before its tell, which can wait for SQLite's lock
    from contextlib import contextmanager

    from nas.search import loop
    from nas.storage import optuna_compat

    events: list[str] = []
    real_beating = optuna_compat.Heartbeat.beating

    @contextmanager
    def recorded(self: optuna_compat.Heartbeat, trial_id: int):  # type: ignore[no-untyped-def]
        with real_beating(self, trial_id):
            events.append("beating")
            yield
            events.append("stopped")

    monkeypatch.setattr(loop.compat.Heartbeat, "beating", recorded)
    store = Store(storage_url)
    settings = StudySettings(
        space="tiny", space_digest="d", data="table:t.csv", data_fingerprint="f",
        strategy="random", objective="pareto", target="table:latency_ms",
        evaluator="supernet", latency_weight=-0.07, seed=0,
    )  # fmt: skip
    study = st.create_or_resume(store, "s", settings, budget=1)
    sampler = optuna.samplers.RandomSampler(seed=0)
    real_after = sampler.after_trial
    monkeypatch.setattr(
        sampler, "after_trial", lambda *a: (events.append("told"), real_after(*a))[1]
    )
    study.sampler = sampler
    objective = TrialObjective(tiny_space, _Stub(None), settings, study, store=store, budget=1)
    assert optimize_until_budget(study, objective, 1, SilentReporter()) == 1
    assert events == ["beating", "told", "stopped"]
