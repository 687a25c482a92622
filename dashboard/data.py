"""What the dashboard reads, and the only module of it that touches the storage.

Everything goes through :mod:`nas.storage` on a read-only :class:`~nas.storage.Store`. Loaded
studies are cached per :func:`nas.storage.progress.signature`, so a page that polls every few
seconds re-reads the database only after a trial was added or finished.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.storage import Store, keys, progress
from nas.storage import studies as st
from nas.storage.results import metrics
from nas.storage.studies import StudySettings
from nas.storage.summaries import StudySummary, summarize_all


@dataclass(frozen=True)
class StudyData:
    """One study as the dashboard shows it: settings and its trials, read once."""

    name: str
    settings: StudySettings | None
    budget: int | None
    trials: tuple[FrozenTrial, ...]  # every trial, in number order
    directions: tuple[str, ...]

    @property
    def complete(self) -> list[FrozenTrial]:
        """Completed trials that carry accuracy and latency (what every chart plots)."""
        return [t for t in self.trials if t.state == TrialState.COMPLETE and metrics(t)]

    @property
    def max_latency_ms(self) -> float | None:
        return self.settings.max_latency_ms if self.settings else None

    def count(self, state: TrialState) -> int:
        return sum(t.state == state for t in self.trials)

    def trial(self, number: int) -> FrozenTrial | None:
        for t in self.trials:
            if t.number == number:
                return t
        return None


@dataclass(frozen=True)
class LatencyRow:
    """One measurement of the shared latency cache (``nas_latency``)."""

    arch_hash: str
    fingerprint_id: str
    input_shape: str
    median_ms: float
    stats: dict[str, Any] = field(default_factory=dict)


class Reader:
    """Read-only access to one storage URL, with a per-signature cache of loaded studies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = Store(url, read_only=True)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, StudyData]] = {}

    def signature(self, study: str | None = None) -> str:
        return progress.signature(self.store, study)

    def summaries(self) -> list[StudySummary]:
        return summarize_all(self.store)

    def names(self) -> list[str]:
        return [
            s.study_name
            for s in optuna.get_all_study_summaries(self.store.optuna, include_best_trial=False)
        ]

    def study(self, name: str) -> StudyData:
        """The study ``name``, re-read only when its signature changed.

        Raises:
            StorageError: no such study.
        """
        sig = self.signature(name)
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] == sig:
                return hit[1]
        study = st.load(self.store, name)
        data = StudyData(
            name=name,
            settings=st.settings_of(study),
            budget=study.user_attrs.get(keys.BUDGET),
            trials=tuple(study.get_trials(deepcopy=False)),
            directions=tuple(d.name.lower() for d in study.directions),
        )
        with self._lock:
            self._cache[name] = (sig, data)
        return data

    def optuna_study(self, name: str) -> optuna.Study:
        """The Optuna study itself (parameter importance needs one)."""
        return st.load(self.store, name)

    def latency_rows(self, limit: int = 20_000) -> list[LatencyRow]:
        """Measurements in the latency cache, newest first; none for non-nas databases."""
        if not self.store.has_nas_tables():
            return []
        from sqlalchemy import select

        from nas.storage.tables import LatencyRecord

        with self.store.session() as s:
            recs = s.scalars(
                select(LatencyRecord).order_by(LatencyRecord.id.desc()).limit(limit)
            ).all()
            return [
                LatencyRow(
                    r.arch_hash, r.fingerprint_id, r.input_shape, r.median_ms, _json(r.stats_json)
                )
                for r in recs
            ]


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
