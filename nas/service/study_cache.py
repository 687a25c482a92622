"""What the API serves of a study (its trials page, front and progress), kept between
requests and refreshed only when the study changed (issue 23: < 100 ms at 50,000 trials).

Every request first reads the study's change token (:func:`nas.storage.fastread.change_token`:
the largest trial and attribute ids and a count per state). While it is the same, the cached
rows answer; when it moves, only the trials that can have changed are read again: those
numbered above the last one cached, and those cached before they settled (running or waiting,
or failed before their reason was written). A finished trial's results never change. The rows
are the API's own (:func:`api_row`), so a page is a slice, and the front and the best accuracy
are computed once per token and latency cap by :mod:`nas.analysis.results` itself.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from nas.storage import fastread, keys
from nas.storage.db import Store

# the user attributes the API's rows show (nothing else is read: no table rows, no archs)
ROW_KEYS = (
    keys.ACCURACY,
    keys.LATENCY_MS,
    keys.PARAMS_M,
    keys.ARCH_STR,
    keys.FAIL_REASON,
)


def api_row(t: FrozenTrial) -> dict[str, Any]:
    """A trial as the API returns it."""
    ua = t.user_attrs
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "accuracy": ua.get(keys.ACCURACY),
        "latency_ms": ua.get(keys.LATENCY_MS),
        "params_m": ua.get(keys.PARAMS_M),
        "arch": ua.get(keys.ARCH_STR),
        "fail_reason": ua.get(keys.FAIL_REASON),
    }


def _settled(t: FrozenTrial) -> bool:
    """Whether the trial's row can no longer change."""
    if t.state == TrialState.FAIL:
        return keys.FAIL_REASON in t.user_attrs
    return t.state.is_finished()


@dataclass
class StudyView:
    """One study's rows at one token, and what was computed from them."""

    token: tuple[Any, ...]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> API row
    done: dict[int, datetime | None] = field(default_factory=dict)  # complete: when
    unsettled: set[int] = field(default_factory=set)
    last: int = -1  # the largest trial number read
    memo: dict[Any, Any] = field(default_factory=dict)  # (what, cap) -> value

    def update(self, token: tuple[Any, ...], trials: list[FrozenTrial]) -> None:
        """Take the re-read ``trials`` (unsettled ones and those above ``last``)."""
        unordered = False  # new numbers arrive in order; a trial completing out of order not
        for t in trials:
            self.rows[t.number] = api_row(t)
            self.last = max(self.last, t.number)
            if t.state == TrialState.COMPLETE:
                unordered |= bool(self.done) and t.number < next(reversed(self.done))
                self.done[t.number] = t.datetime_complete
            if _settled(t):
                self.unsettled.discard(t.number)
            else:
                self.unsettled.add(t.number)
        if unordered:
            self.done = dict(sorted(self.done.items()))
        self.token = token
        self.memo = {}

    def page(self, offset: int, limit: int | None) -> list[dict[str, Any]]:
        if "rows" not in self.memo:
            self.memo["rows"] = list(self.rows.values())
        rows = self.memo["rows"]
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    def complete(self) -> list[Any]:
        """The complete trials as the objects :mod:`nas.analysis.results` reads (their
        accuracy and latency as user attributes)."""
        if "complete" not in self.memo:
            self.memo["complete"] = [
                SimpleNamespace(
                    number=n,
                    user_attrs={
                        keys.ACCURACY: self.rows[n]["accuracy"],
                        keys.LATENCY_MS: self.rows[n]["latency_ms"],
                    },
                    datetime_complete=when,
                )
                for n, when in self.done.items()
            ]
        return self.memo["complete"]  # type: ignore[no-any-return]

    def front(self, cap: float | None) -> list[dict[str, Any]]:
        from nas.analysis.results import pareto_front

        if ("front", cap) not in self.memo:
            self.memo[("front", cap)] = [
                self.rows[t.number] for t in pareto_front(self.complete(), cap)
            ]
        return self.memo[("front", cap)]  # type: ignore[no-any-return]

    def best_accuracy(self, cap: float | None) -> float | None:
        from nas.analysis.results import best_accuracy

        if ("best", cap) not in self.memo:
            self.memo[("best", cap)] = best_accuracy(self.complete(), cap)
        return self.memo[("best", cap)]  # type: ignore[no-any-return]


class StudyCache:
    """The views of the last ``size`` studies read, one lock around each refresh."""

    def __init__(self, store: Store, size: int = 8) -> None:
        self.store = store
        self.size = size
        self._views: OrderedDict[str, StudyView] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, study_name: str) -> StudyView | None:
        """The study's current view (None: no such study yet)."""
        token = fastread.change_token(self.store, study_name)  # outside the lock: concurrent
        with self._lock:
            if token is None:
                self._views.pop(study_name, None)
                return None
            v = self._views.get(study_name)
            if v is None or v.token[0] != token[0]:  # new, or another study of that name
                v = StudyView(token=())
            if v.token != token:
                got = fastread.read_changes(
                    self.store,
                    study_name,
                    after=v.last,
                    numbers=sorted(v.unsettled),
                    attr_keys=ROW_KEYS,
                )
                if got is None:
                    return None
                v.update(*got)
            self._views[study_name] = v
            self._views.move_to_end(study_name)
            while len(self._views) > self.size:
                self._views.popitem(last=False)
            return v


_CACHES: weakref.WeakKeyDictionary[Store, StudyCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def for_store(store: Store) -> StudyCache:
    """The one cache of ``store`` (made on first use; gone with the store)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = StudyCache(store)
        return cache


def completed_since(view: StudyView, since: float) -> int:
    """How many complete trials finished at or after ``since`` (a POSIX time)."""
    return sum(1 for when in view.done.values() if when and when.timestamp() >= since)
