"""The Optuna objective of a search: suggest an architecture, score it, record it.

Every trial stores the canonical architecture, its hash and one-line form, the evaluator's
metrics and (with ``--max-latency-ms``) the constraint value Optuna's samplers read.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.evaluators.base import CandidateError, Evaluation, Evaluator
from nas.spaces import Space
from nas.spaces.optuna_adapter import suggest
from nas.storage import keys
from nas.storage import studies as st
from nas.storage.studies import StudySettings

# attributes that describe the trial's own architecture, not a reusable result
_OWN = (keys.ARCH, keys.ARCH_HASH, keys.ARCH_STR, keys.DUPLICATE_OF)


def weighted_score(acc: float, latency_ms: float, target_ms: float, w: float) -> float:
    """MnasNet (Tan et al., 2019): ``accuracy * (latency / target) ** w``."""
    return acc * (latency_ms / target_ms) ** w


class TrialObjective:
    """The Optuna objective: suggest, reuse a finished duplicate or evaluate, record."""

    def __init__(
        self, space: Space, evaluator: Evaluator, settings: StudySettings, study: optuna.Study
    ) -> None:
        self.space = space
        self.evaluator = evaluator
        self.settings = settings
        self.done: dict[str, FrozenTrial] = {
            str(t.user_attrs[keys.ARCH_HASH]): t
            for t in st.complete_trials(study)
            if keys.ARCH_HASH in t.user_attrs
        }
        self.seconds = {"evaluation": 0.0, "latency": 0.0}
        for t in self.done.values():
            self._observe(t)

    def values(self, ev: Evaluation) -> list[float] | float:
        if self.settings.objective == "pareto":
            return [ev.accuracy, ev.latency_ms]
        assert self.settings.latency_target_ms is not None
        return weighted_score(
            ev.accuracy,
            ev.latency_ms,
            self.settings.latency_target_ms,
            self.settings.latency_weight,
        )

    def __call__(self, trial: optuna.Trial) -> list[float] | float:
        arch = suggest(trial, self.space)
        h = self.space.hash(arch)
        trial.set_user_attr(keys.ARCH, arch)
        trial.set_user_attr(keys.ARCH_HASH, h)
        trial.set_user_attr(keys.ARCH_STR, self.space.describe(arch))
        previous = self.done.get(h)
        if previous is not None:
            # The same network was scored already: reuse its result instead of re-measuring.
            ev = Evaluation(
                float(previous.user_attrs[keys.ACCURACY]),
                float(previous.user_attrs[keys.LATENCY_MS]),
                {k: v for k, v in previous.user_attrs.items() if k not in _OWN},
            )
            trial.set_user_attr(keys.DUPLICATE_OF, previous.number)
        else:
            try:
                ev = self.evaluator.evaluate(arch, h)
            except CandidateError as exc:
                trial.set_user_attr("fail_reason", str(exc))
                raise
            self.seconds["evaluation"] += float(ev.attrs.get(keys.EVAL_SECONDS, 0.0))
            self.seconds["latency"] += float(ev.attrs.get(keys.LATENCY_SECONDS, 0.0))
        for k, v in ev.attrs.items():
            trial.set_user_attr(k, v)
        trial.set_user_attr(keys.ACCURACY, ev.accuracy)
        trial.set_user_attr(keys.LATENCY_MS, ev.latency_ms)
        if self.settings.max_latency_ms is not None:
            trial.set_user_attr(keys.CONSTRAINT, [ev.latency_ms - self.settings.max_latency_ms])
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
