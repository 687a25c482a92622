"""A queue worker: take searches from ``nas_searches`` and run them, one at a time.

What ``nas worker --queue`` runs on any machine that reaches the database, and what each of the
``--slots K`` processes of ``nas serve`` runs. A search runs in this process with
:func:`nas.search.driver.run_search` on the study named in its row, so a search taken over
after its worker died resumes where the study stands (completed trials are never redone; the dead
worker's running trial is failed by Optuna's heartbeat and re-run).

A watcher thread renews the row's heartbeat every ``NAS_HEARTBEAT_SECONDS`` (capped at 1 s
here so a cancel is seen quickly) and, when the row asks to be cancelled, raises
:class:`Cancelled` in the main thread (via ``SIGUSR1``): Optuna fails the running trial, the
objective records ``fail_reason = "cancelled"``, and the row ends ``cancelled``. SIGINT or
SIGTERM (a server shutting down) hands a running search back to the queue instead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from types import FrameType

from nas.errors import Cancelled, NasInputError
from nas.search import interrupts
from nas.service import queue as q
from nas.storage.db import Store

log = logging.getLogger(__name__)

CANCEL_SIGNAL = signal.SIGUSR1


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Watch:
    """Shared between the main thread and the watcher."""

    armed: bool = False  # the main thread is inside run_search: a Cancelled may be raised
    cancelled: bool = False
    lost: bool = False  # another worker took the row (this one was presumed dead)
    stop: bool = False


def _on_cancel(signum: int, frame: FrameType | None) -> None:
    interrupts.deliver(Cancelled("cancelled"))  # never inside Optuna's bookkeeping


def _watch(store: Store, search_id: int, owner: str, w: _Watch, lock: threading.Lock) -> None:
    interval = min(1.0, float(store.heartbeat_seconds))
    main = threading.main_thread().ident
    assert main is not None
    while not w.stop:
        try:
            mine, cancel = q.beat(store, search_id, owner)
        except Exception as exc:  # a database hiccup: try again at the next beat
            log.warning("heartbeat of search %d failed: %s", search_id, exc)
            mine, cancel = True, False
        with lock:
            if (cancel or not mine) and not (w.cancelled or w.lost):
                w.cancelled, w.lost = cancel, not mine
                if w.armed:
                    signal.pthread_kill(main, CANCEL_SIGNAL)
        time.sleep(interval)


def run_one(store: Store, search: q.Search, owner: str) -> q.State:
    """Run one claimed search to its end (or until cancelled); the state it ended in."""
    from nas.search.driver import run_search
    from nas.search.options import SearchOptions

    w, lock = _Watch(), threading.Lock()
    previous = signal.signal(CANCEL_SIGNAL, _on_cancel)
    watcher = threading.Thread(target=_watch, args=(store, search.id, owner, w, lock), daemon=True)
    watcher.start()
    state, error = q.State.FAILED, ""
    try:
        opts = SearchOptions(
            **{
                **search.options,
                "storage": store.url,
                "study": search.study_name,
                "budget": search.budget,
            }
        )
        with lock:
            if w.cancelled:
                raise Cancelled("cancelled")
            w.armed = True
        try:
            result = run_search(opts)
        finally:
            with lock:
                w.armed = False
        if w.cancelled:
            state, error = q.State.CANCELLED, "cancelled"
        elif result.interrupted:
            state = q.State.QUEUED  # stopped by SIGINT/SIGTERM: the next worker resumes it
        elif result.completed >= result.budget:
            state = q.State.DONE
        else:
            error = f"ended with {result.completed} of {result.budget} trials complete"
    except Cancelled:
        state, error = q.State.CANCELLED, "cancelled"
    except KeyboardInterrupt:
        state = q.State.QUEUED
    except NasInputError as exc:
        error = str(exc)
    except Exception as exc:  # the search failed; the row says why, the worker goes on
        log.exception("search %d failed", search.id)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        w.stop = True
        signal.signal(CANCEL_SIGNAL, previous)
    if w.lost:
        log.warning("search %d was taken over by another worker", search.id)
        return state
    if state == q.State.CANCELLED:
        _fail_running(store, search.study_name)
    q.finish(store, search.id, owner, state, error)
    log.info("search %d ended %s %s", search.id, state.value, error)
    return state


def _fail_running(store: Store, study_name: str) -> None:
    """Fail the study's trials still RUNNING after a cancel, with reason "cancelled".

    The cancel usually lands inside the objective, which records the reason itself; landing in
    Optuna's own bookkeeping (between creating a trial and calling the objective) would leave a
    RUNNING trial behind. One search has one worker at a time, so every RUNNING trial of its
    study is this worker's (or a dead predecessor's, which is failed anyway).
    """
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from nas.storage import keys
    from nas.storage.optuna_compat import trial_id

    try:
        study = optuna.load_study(study_name=study_name, storage=store.optuna)
    except KeyError:  # cancelled before its study was made
        return
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        try:
            store.optuna.set_trial_user_attr(trial_id(t), keys.FAIL_REASON, "cancelled")
            store.optuna.set_trial_state_values(trial_id(t), TrialState.FAIL)
        except UpdateFinishedTrialError:
            pass


def work_queue(
    storage: str,
    *,
    poll_seconds: float = 1.0,
    max_searches: int | None = None,
    exit_when_idle: bool = False,
) -> int:
    """Take and run searches until interrupted; returns how many this worker ran."""
    store = Store(storage)
    owner = owner_tag()
    ran = 0
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        interrupts.deliver(KeyboardInterrupt())  # held while Optuna records a trial

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping and (max_searches is None or ran < max_searches):
            search = q.claim(store, owner, store.grace_seconds)
            if search is None:
                if exit_when_idle:
                    break
                time.sleep(poll_seconds)
                continue
            log.info("worker %s took search %d (%s)", owner, search.id, search.study_name)
            state = run_one(store, search, owner)
            ran += 1
            if state == q.State.QUEUED:  # interrupted: stop taking work
                break
    except KeyboardInterrupt:
        pass
    return ran
