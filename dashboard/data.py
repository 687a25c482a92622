"""What the dashboard reads, and the only module of it that touches the storage.

Everything goes through :mod:`nas.storage` on a read-only :class:`~nas.storage.Store`. Loaded
studies are cached per :func:`nas.storage.progress.signature`, so a page that polls every few
seconds re-reads the database only after a trial was added or finished.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.analysis.results import metrics
from nas.analysis.summaries import StudySummary, summarize
from nas.errors import StorageError
from nas.storage import Store, fastread, keys, progress
from nas.storage import studies as st
from nas.storage.studies import StudySettings

IMPORTANCE_TRIALS = 500  # latest completed trials used for parameter importance


@dataclass(frozen=True)
class StudyData:
    """One study as the dashboard shows it: settings and its trials, read once."""

    name: str
    settings: StudySettings | None
    budget: int | None
    trials: tuple[FrozenTrial, ...]  # every trial, in number order
    directions: tuple[str, ...]
    anchors: dict[str, str] = field(default_factory=dict)  # arch hash -> largest | smallest

    @property
    def complete(self) -> list[FrozenTrial]:
        """Completed trials that carry accuracy and latency (what every chart plots)."""
        return list(self._complete)

    @cached_property
    def _complete(self) -> tuple[FrozenTrial, ...]:  # every chart asks: once per study read
        return tuple(t for t in self.trials if t.state == TrialState.COMPLETE and metrics(t))

    @cached_property
    def _by_number(self) -> dict[int, FrozenTrial]:
        return {t.number: t for t in self.trials}

    @property
    def max_latency_ms(self) -> float | None:
        return self.settings.max_latency_ms if self.settings else None

    def count(self, state: TrialState) -> int:
        return sum(t.state == state for t in self.trials)

    def trial(self, number: int) -> FrozenTrial | None:
        return self._by_number.get(number)


@dataclass(frozen=True)
class LatencyRow:
    """One measurement of the shared latency cache (``nas_latency``)."""

    arch_hash: str
    fingerprint_id: str
    input_shape: str
    median_ms: float
    stats: dict[str, Any] = field(default_factory=dict)


def hide_password(url: str) -> str:
    """``url`` as pages show it: ``postgresql://nas:***@db/nas`` for one with a password."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed "[" of an IPv6 host: Store refuses it with one line
        return url.partition("@")[2] or url
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


class Reader:
    """Read-only access to one storage URL, with a per-signature cache of loaded studies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = hide_password(url)  # what pages and messages show: never a password
        self.store = Store(url, read_only=True)
        self._lock = threading.RLock()
        self._cache: dict[str, tuple[str, StudyData]] = {}

    def signature(self, study: str | None = None) -> str:
        return progress.signature(self.store, study)

    def summaries(self) -> list[StudySummary]:
        """One summary per study (from the cached trials: cheap while nothing changes)."""
        out = []
        for name in self.names():
            d = self.study(name)
            out.append(summarize(self._frozen(name), list(d.trials)))
        return out

    def names(self) -> list[str]:
        return [s.study_name for s in self.store.optuna.get_all_studies()]

    def _frozen(self, name: str) -> optuna.Study:
        try:
            return optuna.load_study(study_name=name, storage=self.store.optuna)
        except KeyError:
            names = self.names()
            hint = (
                f"; studies here: {', '.join(names[:10])}" if names else "; the storage has none"
            )
            raise StorageError(f"no study named {name!r} in {self.shown}{hint}") from None

    def study(self, name: str) -> StudyData:
        """The study ``name``, re-read only when its signature changed.

        Raises:
            StorageError: no such study.
        """
        sig = self.signature(name)
        with self._lock:  # one loader at a time: concurrent callbacks share the result
            hit = self._cache.get(name)
            if hit is not None and hit[0] == sig:
                return hit[1]
            study = self._frozen(name)
            data = StudyData(
                name=name,
                settings=st.settings_of(study),
                budget=study.user_attrs.get(keys.BUDGET),
                trials=tuple(fastread.load_trials(self.store, name, params=False)),
                directions=tuple(d.name.lower() for d in study.directions),
                anchors=st.anchors_of(study.user_attrs),
            )
            self._cache[name] = (sig, data)
            return data

    def importance_study(self, name: str, limit: int = IMPORTANCE_TRIALS) -> optuna.Study:
        """An in-memory copy of the study's latest ``limit`` completed trials, with parameters.

        Parameter importance needs an Optuna study; a bounded in-memory copy keeps it to
        seconds for studies of thousands of trials (and never touches the storage).
        """
        src = self._frozen(name)
        done = [
            t
            for t in fastread.load_trials(self.store, name, last_complete=limit)
            if t.state == TrialState.COMPLETE and t.values is not None
        ][-limit:]
        copy = optuna.create_study(directions=src.directions)
        copy.add_trials(done)
        return copy

    def lookup_tables(self) -> list[LookupTable]:
        """Every stored latency lookup table, the largest first; none for non-nas databases."""
        if not self.store.has_nas_tables():
            return []
        from nas.storage.latency_lut import LatencyTableStore

        lut = LatencyTableStore(self.store)
        return [
            LookupTable(
                t.space_digest,
                t.fingerprint_id,
                lut.entries(t.space_digest, t.fingerprint_id),
                lut.fits(t.space_digest, t.fingerprint_id),
                lut.fingerprint(t.space_digest, t.fingerprint_id),
            )
            for t in lut.tables()
        ]

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


@dataclass(frozen=True)
class LookupTable:
    """One stored latency lookup table (``nas_latency_lut``) and its predictor fits."""

    space_digest: str
    fingerprint_id: str
    entries: dict[str, float]  # lut key -> median ms
    fits: dict[int, dict[str, Any]]  # num_classes -> {"a", "b", "n", "meta"}
    fingerprint: dict[str, Any] = field(default_factory=dict)  # the target it was profiled on


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
