"""Choose the trial to export: by number, or a pick from the study's Pareto front."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.analysis.results import metrics, pareto_front
from nas.errors import OptionError, StorageError
from nas.storage import keys
from nas.storage import studies as st
from nas.storage.studies import StudySettings

PICKS = ("accuracy", "latency", "knee")
DEFAULT_PICK = "knee"


def check_choice(trial: int | None, pick: str | None, max_latency_ms: float | None) -> None:
    """Validate the trial options up front (before anything is read or written)."""
    if trial is not None and pick is not None:
        raise OptionError("give either --trial N or --pick, not both")
    if trial is not None and max_latency_ms is not None:
        raise OptionError("--max-latency-ms filters a --pick; it does not apply to --trial N")
    if pick is not None and pick not in PICKS:
        raise OptionError(f"--pick must be one of {', '.join(PICKS)}, got {pick!r}")
    if max_latency_ms is not None and not max_latency_ms > 0:
        raise OptionError(f"--max-latency-ms must be > 0, got {max_latency_ms}")


def choose(
    study: optuna.Study,
    settings: StudySettings,
    *,
    trial: int | None = None,
    pick: str | None = None,
    max_latency_ms: float | None = None,
) -> tuple[FrozenTrial, str]:
    """The trial to export and why (``"trial 7"``, ``"knee of 5 front trials"``).

    Raises:
        OptionError: conflicting options.
        StorageError: no such trial, a trial that did not complete, no completed trials, or
            no front trial under the latency limit.
    """
    check_choice(trial, pick, max_latency_ms)
    complete = st.complete_trials(study)
    name = study.study_name
    if trial is not None:
        trials = study.get_trials(deepcopy=False)
        found = [t for t in trials if t.number == trial]
        if not found:
            last = f"0..{trials[-1].number}" if trials else "none"
            raise StorageError(f"study {name!r} has no trial {trial} (trials: {last})")
        t = found[0]
        if t.state != TrialState.COMPLETE or keys.ARCH not in t.user_attrs:
            raise StorageError(
                f"trial {trial} of study {name!r} is {t.state.name.lower()}, "
                "not complete; choose a complete trial ('nas show')"
            )
        return t, f"trial {trial}"
    if not any(metrics(t) is not None for t in complete):
        raise StorageError(f"study {name!r} has no completed trials to export; run the search")
    limits = [x for x in (settings.max_latency_ms, max_latency_ms) if x is not None]
    limit = min(limits) if limits else None
    front = pareto_front(complete, limit)
    if not front:
        raise StorageError(f"study {name!r} has no completed trial under {limit} ms")
    how = pick or DEFAULT_PICK
    if how == "accuracy":
        chosen = max(front, key=lambda t: (metrics(t)[0], -metrics(t)[1]))  # type: ignore[index]
    elif how == "latency":
        chosen = front[0]
    else:
        from nas.analysis.results import knee

        chosen = knee(front)  # type: ignore[assignment]
        assert chosen is not None
    under = f" under {limit} ms" if limit is not None else ""
    return chosen, f"{how} pick of {len(front)} front trials{under}: trial {chosen.number}"
