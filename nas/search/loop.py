"""Run Optuna trials until a study holds its budget of completed trials.

Any number of workers (processes, machines) may run this loop on one study at the same time.
Before each trial a worker fails stale trials (dead workers) and counts COMPLETE and RUNNING
trials: with ``complete >= budget`` it stops; with ``complete + running >= budget`` the rest of
the budget is being evaluated by others, so it waits in case one of them fails. The count is
only a cheap pre-check: the budget slot a trial reserves in the objective
(:mod:`nas.storage.coordination`) is what makes the final number of COMPLETE trials exact, and
the architecture claim (:mod:`nas.strategies.no_repeat`) what makes them distinct.

A worker's trial can be failed by *another* worker's stale-trial sweep while it still runs
(its heartbeat came late: a busy machine, a grace period set too short). Optuna's
``Study.optimize`` then raises (``Cannot tell a FAIL trial``, or ``UpdateFinishedTrialError``
from a ``suggest`` or ``set_user_attr``) and the worker would die. So each trial is run by
:func:`run_trial` (Optuna's ask and tell with its heartbeat thread, as ``optimize`` does):
such a trial's late result is dropped with a warning -- the trial stays FAIL with its
``fail_reason``, its budget slot and architecture claim are free, it is retried as a dead
worker's trial would be -- and the loop goes on with the next trial.

The study is read once per trial, right after the tell (and again after a wait or a dropped
trial): that one read (:class:`~nas.storage.snapshot.TrialSnapshot`) serves the progress
report, the next stale check and budget count, the budget slot reservation and the no-repeat
sampler's set of taken architectures. One heartbeat thread per worker beats the running trial
(:class:`~nas.storage.optuna_compat.Heartbeat`), not one thread per trial.

A repeat is pruned without spending budget. Repeats only reach the objective when every
architecture is taken, so :data:`MAX_CONSECUTIVE_REPEATS` of them in a row end this worker's
loop (the space has no unseen architecture left for it) instead of spinning.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.evaluators.base import CandidateError
from nas.search import interrupts
from nas.search.objective import TrialObjective, report_trial
from nas.storage import keys
from nas.storage import optuna_compat as compat
from nas.storage.coordination import fail_stale

if TYPE_CHECKING:
    from nas.reporting import Reporter

log = logging.getLogger(__name__)
MAX_CONSECUTIVE_FAILURES = 5
MAX_CONSECUTIVE_REPEATS = 10
# Optuna's heartbeat sweep (one query) at most this often per worker: a trial is stale only
# after the grace period (60 s by default), so checking it 50 times a second on a fast table
# search finds nothing sooner. The check for trials of workers that exited runs every trial.
STALE_SWEEP_SECONDS = 1.0


def _complete_and_running(trials: list[FrozenTrial]) -> tuple[int, int]:
    """``(complete trials, complete + running trials)`` among ``trials``."""
    states = [t.state for t in trials if t.state in (TrialState.COMPLETE, TrialState.RUNNING)]
    return states.count(TrialState.COMPLETE), len(states)


def _failed_elsewhere(study: optuna.Study, trial_id: int) -> bool:
    """Whether the trial this worker runs is FAIL in the storage before this worker told it:
    another worker's stale-trial sweep failed it (the only way one worker finishes another's
    trial)."""
    return compat.storage_of(study).get_trial(trial_id).state == TrialState.FAIL


def run_trial(
    study: optuna.Study,
    objective: TrialObjective,
    catch: tuple[type[Exception], ...],
    heartbeat: compat.Heartbeat,
) -> FrozenTrial | None:
    """Ask for a trial, run ``objective`` on it and tell its outcome, as
    ``study.optimize(objective, n_trials=1, catch=catch)`` does.

    Two differences: the heartbeat thread runs until the trial is told (a tell that waits for
    SQLite's write lock must not look stale), and a trial that another worker's stale-trial
    sweep failed meanwhile is dropped with a warning instead of raising.

    Returns:
        The finished trial, or ``None`` when it was dropped.

    Raises:
        Whatever the objective raised, other than ``TrialPruned`` and ``catch`` (the trial is
        told FAIL first, as Optuna does).
    """
    trial = compat.ask(study)
    tid = compat.trial_id(trial)
    values: list[float] | float | None = None
    state: TrialState | None = None
    with heartbeat.beating(tid):  # until told: see the docstring
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except catch:
            state = TrialState.FAIL
        except BaseException as exc:
            # an error of this worker: told FAIL and raised; one caused by the takeover (a
            # suggest or set_user_attr on the failed trial) is not an error of this worker
            if not (isinstance(exc, Exception) and _failed_elsewhere(study, tid)):
                _tell_failed(study, trial)
                raise
            _dropped(trial)
            return None
        try:
            return study.tell(trial, values, state=state)
        except Exception:  # "Cannot tell a FAIL trial", UpdateFinishedTrialError
            if not _failed_elsewhere(study, tid):
                raise
    _dropped(trial)
    return None


def _dropped(trial: optuna.Trial) -> None:
    log.warning(
        "trial %d was failed by another worker's stale-trial sweep while this worker ran it "
        "(its heartbeat came late: a busy machine, or NAS_GRACE_SECONDS too short); its result "
        "is dropped, the trial is retried as a dead worker's would be, and this worker goes on",
        trial.number,
    )


def _tell_failed(study: optuna.Study, trial: optuna.Trial) -> None:
    """Tell FAIL, unless another worker failed the trial first."""
    try:
        study.tell(trial, state=TrialState.FAIL)
    except Exception:
        if not _failed_elsewhere(study, compat.trial_id(trial)):
            raise


def optimize_until_budget(
    study: optuna.Study,
    objective: TrialObjective,
    budget: int,
    reporter: Reporter,
    max_latency_ms: float | None = None,
    *,
    poll_seconds: float = 0.5,
) -> int:
    """Optimise until ``budget`` trials are COMPLETE; failed candidates are replaced.

    Returns:
        The number of trials this worker completed.

    Raises:
        CandidateError: ``MAX_CONSECUTIVE_FAILURES`` candidates failed one after another.
    """
    failures = 0  # in a row: a few failures among successes (cells missing from a table) are fine
    mine = 0
    repeats = 0  # in a row
    last_reason: str | None = None

    def after(study: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal failures, mine, last_reason, repeats
        if trial.state == TrialState.FAIL:
            failures += 1
            last_reason = trial.user_attrs.get("fail_reason")
        elif trial.state == TrialState.COMPLETE:
            failures, mine, repeats = 0, mine + 1, 0
        elif trial.state == TrialState.PRUNED and keys.DUPLICATE_OF in trial.user_attrs:
            repeats += 1
        objective.remember(trial)
        # the one read of the study per trial: progress now, the next trial's decisions after
        snapshot.refresh()
        complete = snapshot.with_states(TrialState.COMPLETE)
        report_trial(study, trial, budget, reporter, max_latency_ms, complete)

    snapshot = objective.snapshot
    heartbeat = compat.Heartbeat(study)
    sweep = _Throttle(STALE_SWEEP_SECONDS)
    try:
        while True:
            trials = snapshot.take_fresh()
            running = snapshot.with_states(TrialState.RUNNING)
            if fail_stale(study, running, heartbeats=sweep.due()):
                trials = snapshot.take_fresh()  # read again: the failed trials are FAIL now
            complete, held = _complete_and_running(trials)
            if complete >= budget:
                return mine
            if held >= budget:
                time.sleep(poll_seconds)  # others hold the rest of the budget; one may fail
                continue
            with interrupts.optuna_call():  # Ctrl-C never lands inside Optuna's bookkeeping
                finished = run_trial(study, objective, (CandidateError,), heartbeat)
                if finished is not None:
                    after(study, finished)
            if _streak_ends_loop(repeats, failures, last_reason):
                return mine
    finally:
        heartbeat.close()


class _Throttle:
    """``due()`` is True at most once every ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def _streak_ends_loop(repeats: int, failures: int, last_reason: str | None) -> bool:
    """True when too many proposals in a row were repeats (the space has no unseen
    architecture left for this worker).

    Raises:
        CandidateError: ``MAX_CONSECUTIVE_FAILURES`` candidates failed one after another.
    """
    if repeats >= MAX_CONSECUTIVE_REPEATS:
        log.warning(
            "%d proposals in a row repeated architectures other trials hold; the space has "
            "no unseen architecture left for this worker",
            repeats,
        )
        return True
    if failures >= MAX_CONSECUTIVE_FAILURES:
        raise CandidateError(
            f"{failures} candidates failed in a row; the last: {last_reason or 'no reason stored'}"
        )
    return False
