"""Run Optuna trials until a study holds its budget of completed trials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.evaluators.base import CandidateError
from nas.objective import TrialObjective
from nas.storage import studies as st
from nas.storage.results import best_accuracy, pareto_front

if TYPE_CHECKING:
    from nas.search import Reporter

MAX_CONSECUTIVE_FAILURES = 5


def optimize_until_budget(
    study: optuna.Study,
    objective: TrialObjective,
    budget: int,
    reporter: Reporter,
    max_latency_ms: float | None = None,
) -> None:
    """Optimise until ``budget`` trials are COMPLETE; failed candidates are replaced.

    Raises:
        CandidateError: ``MAX_CONSECUTIVE_FAILURES`` candidates failed one after another.
    """

    def after(study: optuna.Study, trial: FrozenTrial) -> None:
        objective.remember(trial)
        complete = st.complete_trials(study)
        front = pareto_front(complete, max_latency_ms)
        best = best_accuracy(complete, max_latency_ms)
        reporter.trial_done(len(complete), budget, trial, best, len(front))
        if len(complete) >= budget:
            study.stop()

    failures = 0
    while (done := st.count_complete(study)) < budget:
        before = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        study.optimize(
            objective, n_trials=budget - done, catch=(CandidateError,), callbacks=[after]
        )
        failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - before
        failures = failures + failed if failed else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            failed_trials = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            last = failed_trials[-1].user_attrs.get("fail_reason") if failed_trials else None
            raise CandidateError(
                f"{failures} candidates failed in a row; the last: {last or 'no reason stored'}"
            )
