"""A search's progress as the API answers it: complete trials, best accuracy, front size,
elapsed time and an ETA from this run's rate; the server-sent stream of it; one trial's row."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from nas.errors import NasInputError
from nas.service import queue as q
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
    from nas.analysis.results import best_accuracy, pareto_front

    trials = complete_trials(store, search)
    cap = search.options.get("max_latency_ms")
    done = len(trials)
    end = search.finished_at or time.time()
    elapsed = (end - search.started_at) if search.started_at else 0.0
    eta = None
    if search.state == q.State.RUNNING and done:
        # rate of this run's trials (those completed since the search started)
        recent = [
            t
            for t in trials
            if t.datetime_complete
            and search.started_at
            and t.datetime_complete.timestamp() >= search.started_at
        ]
        if recent and elapsed > 0:
            eta = round(elapsed / len(recent) * max(0, search.budget - done), 1)
    best = best_accuracy(trials, cap)
    return {
        "id": search.id,
        "state": search.state.value,
        "complete": done,
        "budget": search.budget,
        "best_accuracy": best,
        "front_size": len(pareto_front(trials, cap)),
        "elapsed_s": round(elapsed, 1),
        "eta_s": eta,
        "error": search.error,
    }


def trial_row(t: Any) -> dict[str, Any]:
    from nas.storage import keys

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
