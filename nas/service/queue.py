"""The durable queue of searches in ``nas_searches`` (:class:`nas.storage.tables.SearchRecord`).

The database is the coordinator, as in Optuna's distributed mode: a worker anywhere that
reaches the database claims a row with one conditional ``UPDATE`` (only one worker's update
matches), keeps it with a heartbeat, and finishes it. A running search whose heartbeat is older
than the grace period lost its worker (killed, machine gone): the next claim takes it over and
the search resumes where its study stands. Cancelling a queued search ends it at once; a running
one gets ``cancel_requested`` and its worker stops it (see :mod:`nas.service.runner`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from nas.storage.db import Store
from nas.storage.tables import SearchRecord


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = (State.DONE, State.FAILED, State.CANCELLED)


@dataclass(frozen=True)
class Search:
    """One row of the queue, as read."""

    id: int
    study_name: str
    options: dict[str, Any]
    budget: int
    state: State
    cancel_requested: bool
    owner: str
    heartbeat: float
    attempts: int
    error: str
    created_at: float
    started_at: float | None
    finished_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "study": self.study_name,
            "state": self.state.value,
            "budget": self.budget,
            "cancel_requested": self.cancel_requested,
            "worker": self.owner,
            "attempts": self.attempts,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "options": self.options,
        }


def _row(r: SearchRecord) -> Search:
    return Search(
        id=r.id,
        study_name=r.study_name,
        options=json.loads(r.options_json),
        budget=r.budget,
        state=State(r.state),
        cancel_requested=bool(r.cancel_requested),
        owner=r.owner,
        heartbeat=r.heartbeat,
        attempts=r.attempts,
        error=r.error,
        created_at=r.created_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
    )


def submit(store: Store, options: dict[str, Any], *, study_name: str, budget: int) -> Search:
    """Queue a search; ``options`` are SearchOptions fields (without ``storage``)."""
    rec = SearchRecord(
        study_name=study_name,
        options_json=json.dumps(options, sort_keys=True),
        budget=budget,
        state=State.QUEUED.value,
        cancel_requested=0,
        owner="",
        heartbeat=0.0,
        attempts=0,
        error="",
        created_at=time.time(),
    )
    with store.session() as s:
        s.add(rec)
        s.flush()
        return _row(rec)


def get(store: Store, search_id: int) -> Search | None:
    with store.session() as s:
        rec = s.get(SearchRecord, search_id)
        return None if rec is None else _row(rec)


def list_searches(store: Store, *, state: State | None = None, limit: int = 1000) -> list[Search]:
    """Newest first."""
    q = select(SearchRecord).order_by(SearchRecord.id.desc()).limit(limit)
    if state is not None:
        q = q.where(SearchRecord.state == state.value)
    with store.session() as s:
        return [_row(r) for r in s.scalars(q)]


def active_study(store: Store, study_name: str) -> Search | None:
    """The queued or running search of that study, if any."""
    q = select(SearchRecord).where(
        SearchRecord.study_name == study_name,
        SearchRecord.state.in_((State.QUEUED.value, State.RUNNING.value)),
    )
    with store.session() as s:
        rec = s.scalars(q).first()
        return None if rec is None else _row(rec)


def claim(store: Store, owner: str, grace_seconds: float) -> Search | None:
    """Take the oldest search to run: one whose worker went silent first, else a queued one.

    A silent search that was asked to cancel is cancelled instead of taken.
    """
    now = time.time()
    stale = and_(
        SearchRecord.state == State.RUNNING.value, SearchRecord.heartbeat < now - grace_seconds
    )
    queued = SearchRecord.state == State.QUEUED.value
    with store.session() as s:
        s.execute(
            update(SearchRecord)
            .where(stale, SearchRecord.cancel_requested == 1)
            .values(state=State.CANCELLED.value, finished_at=now, error="cancelled")
        )
        ids = list(
            s.scalars(
                select(SearchRecord.id)
                .where(or_(stale, queued))
                .order_by(SearchRecord.state.desc(), SearchRecord.id)  # "running" first
                .limit(20)
            )
        )
    for search_id in ids:
        with store.session() as s:
            won = s.execute(
                update(SearchRecord)
                .where(SearchRecord.id == search_id, or_(stale, queued))
                .values(
                    state=State.RUNNING.value,
                    owner=owner,
                    heartbeat=now,
                    attempts=SearchRecord.attempts + 1,
                    started_at=func.coalesce(SearchRecord.started_at, now),
                )
            ).rowcount  # type: ignore[attr-defined]  # an UPDATE: a CursorResult
        if won == 1:
            return get(store, search_id)
    return None


def beat(store: Store, search_id: int, owner: str) -> tuple[bool, bool]:
    """Renew the heartbeat; ``(still_mine, cancel_requested)``."""
    with store.session() as s:
        n = s.execute(
            update(SearchRecord)
            .where(
                SearchRecord.id == search_id,
                SearchRecord.owner == owner,
                SearchRecord.state == State.RUNNING.value,
            )
            .values(heartbeat=time.time())
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE: a CursorResult
        cancel = s.scalar(
            select(SearchRecord.cancel_requested).where(SearchRecord.id == search_id)
        )
    return n == 1, bool(cancel)


def finish(store: Store, search_id: int, owner: str, state: State, error: str = "") -> bool:
    """End (or, with ``QUEUED``, hand back) a search this worker holds; False if it lost it."""
    values: dict[str, Any] = {"state": state.value, "error": error[:2000]}
    if state in TERMINAL:
        values["finished_at"] = time.time()
    else:
        values.update(owner="", heartbeat=0.0)
    with store.session() as s:
        n = s.execute(
            update(SearchRecord)
            .where(
                SearchRecord.id == search_id,
                SearchRecord.owner == owner,
                SearchRecord.state == State.RUNNING.value,
            )
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE: a CursorResult
    return n == 1


def request_cancel(store: Store, search_id: int) -> Search | None:
    """Cancel a search: a queued one at once, a running one by its worker (within seconds)."""
    now = time.time()
    with store.session() as s:
        s.execute(
            update(SearchRecord)
            .where(SearchRecord.id == search_id, SearchRecord.state == State.QUEUED.value)
            .values(
                state=State.CANCELLED.value, cancel_requested=1, finished_at=now, error="cancelled"
            )
        )
        s.execute(
            update(SearchRecord)
            .where(SearchRecord.id == search_id, SearchRecord.state == State.RUNNING.value)
            .values(cancel_requested=1)
        )
    return get(store, search_id)


def counts(store: Store) -> dict[str, int]:
    """Searches per state (for the metrics)."""
    with store.session() as s:
        rows = s.execute(
            select(SearchRecord.state, func.count()).group_by(SearchRecord.state)
        ).all()
    out = {st.value: 0 for st in State}
    out.update({str(k): int(v) for k, v in rows})
    return out
