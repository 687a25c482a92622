"""Create, resume, load and list nas studies (Optuna studies with nas settings attached)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.errors import StorageError
from nas.limits import clip, shorten
from nas.storage import keys
from nas.storage.db import Store


@dataclass(frozen=True)
class StudySettings:
    """What a study was created with; a resume must match the fields in :data:`MUST_MATCH`."""

    space: str
    space_digest: str
    data: str
    data_fingerprint: str
    strategy: str
    objective: str  # "pareto" | "weighted"
    target: str
    # the options' values as the search resolved them (SearchOptions declares their defaults;
    # every record since the first release holds them)
    evaluator: str
    latency_weight: float
    seed: int
    latency_target_ms: float | None = None
    max_latency_ms: float | None = None
    nas_version: str = ""
    # where accuracy and latency were measured (BxCxHxW); they differ only when the search
    # asked for a proxy (--latency-input): train small, deploy large
    scoring_input: str = ""
    latency_input: str = ""
    # one line on how well inherited accuracy ranks like standalone training, where it was
    # measured for this study's supernet (benchmarks/bench_proxy.py), e.g. "Kendall tau ..."
    fidelity: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # the run's options, for workers

    def input_line(self) -> str:
        """How accuracy and latency relate, in one line for people (show, dashboard, report)."""
        if not self.scoring_input:
            return ""
        if self.latency_input in ("", self.scoring_input):
            return f"accuracy and latency at {self.scoring_input} (one network, one input)"
        return (
            f"PROXY: accuracy at {self.scoring_input}, latency at {self.latency_input} "
            "(--latency-input: train small, deploy large)"
        )

    def directions(self) -> list[Literal["maximize", "minimize"]]:
        return ["maximize", "minimize"] if self.objective == "pareto" else ["maximize"]

    def metric_names(self) -> list[str]:
        if self.objective == "pareto":
            return [keys.ACCURACY, keys.LATENCY_MS]
        return [keys.SCORE]

    def plan(self) -> dict[str, Any]:
        """The search's options with every default resolved, also for a study stored by an
        earlier release (:func:`nas.storage.plan.stored_plan`); paths as stored."""
        from nas.storage.plan import stored_plan

        return stored_plan(self.options, asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudySettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


MUST_MATCH = (
    "space_digest",
    "data_fingerprint",
    "objective",
    "target",
    "evaluator",
    "latency_target_ms",
    "latency_weight",
    "max_latency_ms",
    "seed",
)


def study_exists(store: Store, name: str) -> bool:
    return any(s.study_name == name for s in optuna.get_all_study_summaries(store.optuna))


def check_resume(store: Store, name: str, settings: StudySettings) -> StudySettings | None:
    """The stored settings of study ``name`` (None if new); raises if they conflict.

    Read-only, so a refused resume leaves the database untouched.
    """
    if not study_exists(store, name):
        return None
    study = optuna.load_study(study_name=name, storage=store.optuna)
    raw = study.user_attrs.get(keys.SETTINGS)
    if not isinstance(raw, dict):
        raise StorageError(f"study {shorten(name)} was not made by nas; choose another --study")
    old = StudySettings.from_dict(raw)
    from nas.storage.paths import base_dir, portable_record

    base = base_dir(store.url)
    for key in MUST_MATCH:
        was, now = getattr(old, key), getattr(settings, key)
        if key == "evaluator":  # a study stored before table paths were relative
            was, now = portable_record(was, base), portable_record(now, base)
        if was != now:
            raise StorageError(
                f"study {shorten(name)} was created with {key}={getattr(old, key)!r}, not "
                f"{getattr(settings, key)!r}; use another --study to start a new search"
            )
    return old


def create_or_resume(
    store: Store, name: str, settings: StudySettings, budget: int
) -> optuna.Study:
    """Open study ``name`` (checking it fits ``settings``) or create it; record the budget."""
    old = check_resume(store, name, settings)
    store.ensure_tables()  # the first write of a search
    if old is None:
        study = optuna.create_study(
            study_name=name, storage=store.optuna, directions=settings.directions()
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(settings.metric_names())
        study.set_user_attr(keys.SETTINGS, asdict(settings))
    else:
        study = optuna.load_study(study_name=name, storage=store.optuna)
    if study.user_attrs.get(keys.BUDGET) != budget:
        study.set_user_attr(keys.BUDGET, budget)
    return study


def load(store: Store, name: str) -> optuna.Study:
    """Load an existing nas study; a missing one lists the names there are."""
    names = [s.study_name for s in optuna.get_all_study_summaries(store.optuna)]
    if name not in names:
        hint = (
            f"; studies here: {', '.join(clip(n, 40) for n in names[:10])}"
            if names
            else "; the storage has none"
        )
        raise StorageError(f"no study named {shorten(name)} in {store.url}{hint}")
    return optuna.load_study(study_name=name, storage=store.optuna)


def settings_of(study: optuna.Study) -> StudySettings | None:
    raw = study.user_attrs.get(keys.SETTINGS)
    return StudySettings.from_dict(raw) if isinstance(raw, dict) else None


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def count_complete(study: optuna.Study) -> int:
    return len(complete_trials(study))


def record_anchors(study: optuna.Study, roles: dict[str, str]) -> None:
    """Record the anchors a new search enqueued first (architecture hash -> ``largest`` or
    ``smallest``), so every screen can mark the trials that scored them."""
    if roles and study.user_attrs.get(keys.ANCHORS) != roles:
        study.set_user_attr(keys.ANCHORS, roles)


def anchors_of(user_attrs: dict[str, Any]) -> dict[str, str]:
    """A study's recorded anchors (from its user attributes); {} for a study without any."""
    raw = user_attrs.get(keys.ANCHORS)
    if not isinstance(raw, dict):
        return {}
    return {str(h): str(role) for h, role in raw.items()}


def record_fidelity(study: optuna.Study, line: str) -> None:
    """Store a one-line measurement of how the study's supernet ranks like standalone training
    (benchmarks/bench_proxy.py) in its settings, where ``nas show`` prints it."""
    raw = dict(study.user_attrs.get(keys.SETTINGS) or {})
    raw["fidelity"] = line
    study.set_user_attr(keys.SETTINGS, raw)
