"""The Optuna objective of a search: suggest an architecture, score it, record it.

Every trial stores the canonical architecture, its hash and one-line form, the evaluator's
metrics and (with ``--max-latency-ms``) the constraint value Optuna's samplers read.

With a :class:`~nas.storage.Store` and a budget the objective also coordinates with other
workers on the same study (:mod:`nas.storage.coordination`): a trial first reserves a budget
slot (none left: the trial is PRUNED, so the study never completes more than the budget), then
its architecture is claimed, by the sampler while it proposes (:mod:`nas.strategies.no_repeat`)
or here for a trial whose parameters were fixed in advance (an enqueued or retried trial).

A trial whose architecture another trial holds (evaluated, or being evaluated now) is a repeat:
it is PRUNED with ``duplicate_of`` set and gives its slot back, so the budget counts distinct
architectures. Samplers wrapped in the no-repeat sampler only hand one on when every
architecture of the space is taken.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from nas.analysis.results import best_accuracy, pareto_front
from nas.errors import Cancelled
from nas.evaluators.base import CandidateError, Evaluation, Evaluator
from nas.search import interrupts
from nas.spaces import Space
from nas.spaces.optuna_adapter import suggest
from nas.storage import Store, keys
from nas.storage import studies as st
from nas.storage.coordination import claim_arch, reserve_slot, worker_tag
from nas.storage.optuna_compat import set_user_attrs, trial_id
from nas.storage.snapshot import TrialSnapshot
from nas.storage.studies import StudySettings
from nas.storage.worker_registry import worker_id

if TYPE_CHECKING:
    from nas.reporting import Reporter


def weighted_score(acc: float, latency_ms: float, target_ms: float, w: float) -> float:
    """MnasNet (Tan et al., 2019): ``accuracy * (latency / target) ** w``."""
    return acc * (latency_ms / target_ms) ** w


def arch_attrs(space: Space, arch: dict[str, Any], h: str) -> dict[str, Any]:
    """The attributes that name a trial's architecture (set before it is evaluated)."""
    return {keys.ARCH: arch, keys.ARCH_HASH: h, keys.ARCH_STR: space.describe(arch)}


def result_attrs(ev: Evaluation, settings: StudySettings) -> dict[str, Any]:
    """The attributes that record an evaluation on a trial, for every driver: the evaluator's
    metrics, accuracy, latency and (with ``--max-latency-ms``) the constraint value."""
    attrs = {**ev.attrs, keys.ACCURACY: ev.accuracy, keys.LATENCY_MS: ev.latency_ms}
    if settings.max_latency_ms is not None:
        attrs[keys.CONSTRAINT] = [ev.latency_ms - settings.max_latency_ms]
    return attrs


def objective_values(ev: Evaluation, settings: StudySettings) -> list[float]:
    """The study's objective values of an evaluation (one value for ``weighted``)."""
    if settings.objective == "pareto":
        return [ev.accuracy, ev.latency_ms]
    assert settings.latency_target_ms is not None
    return [
        weighted_score(
            ev.accuracy, ev.latency_ms, settings.latency_target_ms, settings.latency_weight
        )
    ]


def report_trial(
    study: optuna.Study,
    trial: FrozenTrial,
    budget: int,
    reporter: Reporter,
    max_ms: float | None,
    complete: list[FrozenTrial] | None = None,
) -> None:
    """Tell ``reporter`` that ``trial`` ended, with the study's progress (both drivers).

    ``complete``: the study's COMPLETE trials read after ``trial`` was told (the sampler
    loop's snapshot); read now when not given. O(n) per trial; measured negligible next to the
    storage writes of a trial (benchmarks/results/strategies.md), so the progress stays exact
    with several workers.
    """
    if complete is None:
        complete = st.complete_trials(study)
    front = pareto_front(complete, max_ms)
    reporter.trial_done(len(complete), budget, trial, best_accuracy(complete, max_ms), len(front))


class TrialObjective:
    """The Optuna objective: suggest, reuse a finished duplicate or evaluate, record."""

    def __init__(
        self,
        space: Space,
        evaluator: Evaluator,
        settings: StudySettings,
        study: optuna.Study,
        *,
        store: Store | None = None,
        budget: int | None = None,
        snapshot: TrialSnapshot | None = None,
    ) -> None:
        """``snapshot``: the study's trials as the loop last read them, shared with the
        sampler (:mod:`nas.storage.snapshot`); a new one when not given."""
        self.space = space
        self.evaluator = evaluator
        self.settings = settings
        self.study = study
        self.store = store
        self.budget = budget
        self.worker = worker_id()
        self.snapshot = snapshot or TrialSnapshot(study)
        self.done: dict[str, FrozenTrial] = {
            str(t.user_attrs[keys.ARCH_HASH]): t
            for t in st.complete_trials(study)
            if keys.ARCH_HASH in t.user_attrs
        }
        self.seconds = {"evaluation": 0.0, "latency": 0.0}
        for t in self.done.values():
            self._observe(t)

    def values(self, ev: Evaluation) -> list[float] | float:
        values = objective_values(ev, self.settings)
        return values if len(values) > 1 else values[0]

    def __call__(self, trial: optuna.Trial) -> list[float] | float:
        # the trial's first heartbeat is already written (nas.storage.optuna_compat.Heartbeat
        # .beating, before the objective runs): a tagged trial has a heartbeat
        tag = {keys.WORKER: worker_tag(self.worker, trial.number)}
        set_user_attrs(self.study, trial, tag)
        if (
            self.store is not None
            and self.budget is not None
            and reserve_slot(
                self.store, self.study, trial_id(trial), self.budget, self.snapshot.trials
            )
            is None
        ):
            # Lost the race for the last slots to other workers: this trial is not needed.
            raise optuna.TrialPruned("the budget is reached or held by other workers")
        try:
            with interrupts.evaluating():
                return self._run(trial)
        except KeyboardInterrupt as exc:
            reason = "cancelled" if isinstance(exc, Cancelled) else "interrupted"
            # a trial another worker failed as stale keeps that reason
            with contextlib.suppress(UpdateFinishedTrialError):
                trial.set_user_attr(keys.FAIL_REASON, reason)
            raise

    def _claim(self, trial: optuna.Trial, h: str) -> FrozenTrial | None:
        """None: this trial evaluates ``h``; else the trial that holds it (done or running)."""
        assert self.store is not None
        outcome, other = claim_arch(self.store, self.study.study_name, h, trial_id(trial))
        return None if outcome == "mine" else self.store.optuna.get_trial(other)

    def _run(self, trial: optuna.Trial) -> list[float] | float:
        arch = suggest(trial, self.space)
        h = self.space.hash(arch)
        set_user_attrs(self.study, trial, arch_attrs(self.space, arch, h))  # one transaction
        previous = self.done.get(h)
        if previous is None and self.store is not None:
            previous = self._claim(trial, h)
        if previous is not None:
            # A repeat: it neither spends budget nor is measured again (see module docstring).
            trial.set_user_attr(keys.DUPLICATE_OF, previous.number)
            raise optuna.TrialPruned(f"architecture {h} is held by trial {previous.number}")
        try:
            ev = self.evaluator.evaluate(arch, h)
        except CandidateError as exc:
            trial.set_user_attr(keys.FAIL_REASON, str(exc))
            raise
        self.seconds["evaluation"] += float(ev.attrs.get(keys.EVAL_SECONDS, 0.0))
        self.seconds["latency"] += float(ev.attrs.get(keys.LATENCY_SECONDS, 0.0))
        # the one record for both drivers, in one transaction
        set_user_attrs(self.study, trial, result_attrs(ev, self.settings))
        return self.values(ev)

    def remember(self, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE and keys.ARCH_HASH in trial.user_attrs:
            self.done.setdefault(str(trial.user_attrs[keys.ARCH_HASH]), trial)
            self._observe(trial)

    def _observe(self, trial: FrozenTrial) -> None:
        ua = trial.user_attrs
        if keys.ACCURACY in ua and keys.LATENCY_MS in ua:
            self.evaluator.observe(float(ua[keys.ACCURACY]), float(ua[keys.LATENCY_MS]))


def constraints(trial: FrozenTrial) -> list[float]:
    """Optuna constraint values of a trial (<= 0 is feasible); unconstrained studies give 0."""
    return list(trial.user_attrs.get(keys.CONSTRAINT, [0.0]))
