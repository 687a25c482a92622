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
        CandidateError: ``MAX_CONSECUTIVE_FAILURES`` candidates failed one after another (a
            few failures among successes, say architectures missing from a table, are fine).
    """
    in_a_row = 0
    last_reason: str | None = None

    def after(study: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal in_a_row, last_reason
        if trial.state == TrialState.FAIL:
            in_a_row += 1
            last_reason = trial.user_attrs.get("fail_reason")
            if in_a_row >= MAX_CONSECUTIVE_FAILURES:
                study.stop()
                return
        elif trial.state == TrialState.COMPLETE:
            in_a_row = 0
        objective.remember(trial)
        # O(n) per trial; measured negligible next to the storage writes of a trial
        # (benchmarks/results/strategies.md), so the progress stays exact with several workers.
        complete = st.complete_trials(study)
        front = pareto_front(complete, max_latency_ms)
        best = best_accuracy(complete, max_latency_ms)
        reporter.trial_done(len(complete), budget, trial, best, len(front))
        if len(complete) >= budget:
            study.stop()

    while (done := st.count_complete(study)) < budget:
        study.optimize(
            objective, n_trials=budget - done, catch=(CandidateError,), callbacks=[after]
        )
        if in_a_row >= MAX_CONSECUTIVE_FAILURES:
            raise CandidateError(
                f"{in_a_row} candidates failed in a row; the last: "
                f"{last_reason or 'no reason stored'}"
            )
