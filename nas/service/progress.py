"""A search's progress as the API answers it: complete trials, best accuracy, front size,
elapsed time and an ETA from this run's rate; the server-sent stream of it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from nas.errors import NasInputError
from nas.service import queue as q
from nas.service import study_cache
from nas.storage.db import Store


def complete_trials(store: Store, search: q.Search) -> list[Any]:
    from optuna.trial import TrialState

    from nas.storage.fastread import load_trials

    try:
        trials = load_trials(store, search.study_name, params=False)
    except NasInputError:  # the study is made when the search starts
        return []
    return [t for t in trials if t.state == TrialState.COMPLETE]


def progress_of(store: Store, search: q.Search) -> dict[str, Any]:
    view = study_cache.for_store(store).view(search.study_name)
    cap = search.options.get("max_latency_ms")
    done = 0 if view is None else len(view.done)
    end = search.finished_at or time.time()
    elapsed = (end - search.started_at) if search.started_at else 0.0
    eta = None
    if view is not None and search.state == q.State.RUNNING and done and search.started_at:
        # rate of this run's trials (those completed since the search started)
        recent = study_cache.completed_since(view, search.started_at)
        if recent and elapsed > 0:
            eta = round(elapsed / recent * max(0, search.budget - done), 1)
    return {
        "id": search.id,
        "state": search.state.value,
        "complete": done,
        "budget": search.budget,
        "best_accuracy": None if view is None else view.best_accuracy(cap),
        "front_size": 0 if view is None else len(view.front(cap)),
        "elapsed_s": round(elapsed, 1),
        "eta_s": eta,
        "error": search.error,
    }


async def progress_events(
    store: Store,
    search_id: int,
    interval: float,
    max_seconds: float,
    get: Callable[[Store, int], q.Search],
) -> AsyncIterator[str]:
    """The server-sent events of one search: ``progress`` on every change, then ``end``."""
    last = None
    deadline = time.monotonic() + max_seconds
    while True:
        search = await asyncio.to_thread(get, store, search_id)
        p = await asyncio.to_thread(progress_of, store, search)
        if p != last:
            yield f"event: progress\ndata: {json.dumps(p)}\n\n"
            last = p
        if search.state in q.TERMINAL or time.monotonic() > deadline:
            yield f"event: end\ndata: {json.dumps({'state': search.state.value})}\n\n"
            return
        await asyncio.sleep(interval)
