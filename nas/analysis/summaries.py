"""One-line summaries of the studies in a storage (for ``nas studies`` and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.analysis.results import best_accuracy, pareto_front
from nas.storage import keys
from nas.storage.db import Store
from nas.storage.studies import settings_of


@dataclass(frozen=True)
class StudySummary:
    name: str
    space: str
    strategy: str
    target: str
    objective: str
    complete: int
    running: int
    failed: int
    budget: int | None
    best_accuracy: float | None
    front_size: int
    created: str
    evaluator: str  # the study's --evaluator (what its accuracy axis holds; "": not nas's)


def summarize(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> StudySummary:
    """Summary of ``study``; pass ``trials`` when already loaded (e.g. by ``fastread``)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    s = settings_of(study)
    max_lat = s.max_latency_ms if s else None
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    return StudySummary(
        name=study.study_name,
        space=s.space if s else "?",
        strategy=s.strategy if s else "?",
        target=s.target if s else "?",
        objective=s.objective if s else "?",
        complete=len(complete),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        failed=sum(t.state == TrialState.FAIL for t in trials),
        budget=study.user_attrs.get(keys.BUDGET),
        best_accuracy=best_accuracy(complete, max_lat),
        front_size=len(pareto_front(complete, max_lat)),
        created=f"{min(starts):%Y-%m-%d %H:%M}" if starts else "-",
        evaluator=s.evaluator if s else "",
    )


def summarize_all(store: Store) -> list[StudySummary]:
    return [
        summarize(optuna.load_study(study_name=s.study_name, storage=store.optuna))
        for s in optuna.get_all_study_summaries(store.optuna, include_best_trial=False)
    ]
