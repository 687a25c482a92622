"""Coordination of several workers on one study through the database they share.

Three small primitives, each made atomic by a primary key (INSERT succeeds for exactly one
writer) or a compare-and-swap UPDATE (``... WHERE trial_id = <the one I saw>``, succeeds for
exactly one writer). Both work the same on SQLite and PostgreSQL and need no server-side locks:

- **budget slots** (``nas_budget_slots``): a trial evaluates only while holding one of the
  study's ``budget`` slots. A completed trial keeps its slot; a failed or pruned one frees it.
  So the study never holds more than ``budget`` COMPLETE trials however many workers run.
- **architecture claims** (``nas_arch_claims``): the first trial to claim an architecture
  evaluates it; a trial proposing the same architecture while the claim holder runs waits and
  then reuses the result, so no architecture is evaluated twice at the same time.
- **locks** (``nas_locks``): e.g. "train the supernet": one worker trains, the others wait for
  the checkpoint. A lock is kept alive by heartbeats and taken over when they stop.

The state of a trial (RUNNING, COMPLETE, FAIL...) is read from Optuna's storage, so a worker
killed with SIGKILL frees its slot and claim as soon as Optuna fails its stale trial.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from nas.storage import optuna_compat as compat
from nas.storage.db import Store
from nas.storage.tables import ArchClaim, BudgetSlot, WorkLock
from nas.storage.worker_registry import certainly_dead

_FREE = (TrialState.FAIL, TrialState.PRUNED)  # finished without a result


def _insert(store: Store, row: object) -> bool:
    """INSERT ``row``; False if its primary key exists already (another writer won)."""
    try:
        with store.session() as s:
            s.add(row)
    except IntegrityError:
        return False
    return True


def _swap(store: Store, stmt) -> bool:  # type: ignore[no-untyped-def]
    """Run a conditional UPDATE; True if it changed exactly one row (this writer won)."""
    with store.session() as s:
        return s.execute(stmt).rowcount == 1  # type: ignore[attr-defined,no-any-return]


# ---- budget slots ---------------------------------------------------------------------------


def reserve_slot(
    store: Store,
    study: optuna.Study,
    trial_id: int,
    budget: int,
    trials: Sequence[FrozenTrial] | None = None,
) -> int | None:
    """A budget slot for ``trial_id``, or ``None`` when all are held by running or completed
    trials (the budget is reached or being reached by other workers).

    ``trials``: the study's trials as the caller last read them (a worker's
    :class:`~nas.storage.snapshot.TrialSnapshot`); read now when not given. A snapshot older
    than the slot table is safe: a holder it does not know counts as held, and FAIL and PRUNED
    are final, so at worst a slot freed meanwhile is skipped."""
    name = study.study_name
    with store.session() as s:
        rows = dict(
            s.execute(
                select(BudgetSlot.slot, BudgetSlot.trial_id).where(BudgetSlot.study_name == name)
            ).all()
        )
    for slot, tid in rows.items():
        if tid == trial_id:
            return slot
    if trials is None:
        trials = study.get_trials(deepcopy=False)
    state = {compat.trial_id(t): t.state for t in trials}
    # Trials completed without a slot (a study from before slots existed) use up budget too.
    held = set(rows.values())
    unslotted = sum(
        1 for t in trials if t.state == TrialState.COMPLETE and compat.trial_id(t) not in held
    )
    for slot in range(budget - unslotted):
        holder = rows.get(slot)
        if holder is None:
            if _insert(store, BudgetSlot(study_name=name, slot=slot, trial_id=trial_id)):
                return slot
        elif state.get(holder) in _FREE:
            # FAIL and PRUNED are final states, so a stale snapshot can only make us skip a
            # free slot, never take a held one; the swap makes sure one taker wins.
            stmt = (
                update(BudgetSlot)
                .where(
                    BudgetSlot.study_name == name,
                    BudgetSlot.slot == slot,
                    BudgetSlot.trial_id == holder,
                )
                .values(trial_id=trial_id)
            )
            if _swap(store, stmt):
                return slot
    return None


def slot_holders(store: Store, study_name: str) -> dict[int, int]:
    """Slot -> trial id, for tests and diagnostics."""
    with store.session() as s:
        return dict(
            s.execute(
                select(BudgetSlot.slot, BudgetSlot.trial_id).where(
                    BudgetSlot.study_name == study_name
                )
            ).all()
        )


# ---- architecture claims --------------------------------------------------------------------

ClaimOutcome = Literal["mine", "done", "busy"]


def claim_arch(
    store: Store, study_name: str, arch_hash: str, trial_id: int
) -> tuple[ClaimOutcome, int]:
    """Claim the evaluation of ``arch_hash`` for ``trial_id``.

    Returns:
        ``("mine", trial_id)``: evaluate it. ``("done", other)``: trial ``other`` completed it;
        reuse its result. ``("busy", other)``: trial ``other`` is evaluating it now; wait.
    """
    for _ in range(5):  # each round loses only to a writer that made progress
        if _insert(
            store, ArchClaim(study_name=study_name, arch_hash=arch_hash, trial_id=trial_id)
        ):
            return "mine", trial_id
        with store.session() as s:
            holder = s.execute(
                select(ArchClaim.trial_id).where(
                    ArchClaim.study_name == study_name, ArchClaim.arch_hash == arch_hash
                )
            ).scalar()
        if holder is None:
            continue  # released between our INSERT and SELECT: try again
        if holder == trial_id:
            return "mine", trial_id
        state = store.optuna.get_trial(holder).state
        if state == TrialState.COMPLETE:
            return "done", holder
        if state not in _FREE:
            return "busy", holder
        stmt = (
            update(ArchClaim)
            .where(
                ArchClaim.study_name == study_name,
                ArchClaim.arch_hash == arch_hash,
                ArchClaim.trial_id == holder,
            )
            .values(trial_id=trial_id)
        )
        if _swap(store, stmt):
            return "mine", trial_id
    return "busy", holder if holder is not None else trial_id


# ---- locks ----------------------------------------------------------------------------------


def acquire_lock(store: Store, key: str, owner: str, stale_after: float) -> bool:
    """Take lock ``key`` for ``owner``; a lock whose heartbeat is older than ``stale_after``
    seconds, or whose owner certainly exited, is taken over."""
    if _insert(store, WorkLock(key=key, owner=owner, heartbeat=time.time())):
        return True
    with store.session() as s:
        row = s.get(WorkLock, key)
        if row is None:
            return False  # released meanwhile; the caller polls again
        old_owner, old_beat = row.owner, row.heartbeat
    if old_owner == owner:
        return True
    if time.time() - old_beat <= stale_after and not certainly_dead(old_owner):
        return False
    stmt = (
        update(WorkLock)
        .where(WorkLock.key == key, WorkLock.owner == old_owner, WorkLock.heartbeat == old_beat)
        .values(owner=owner, heartbeat=time.time())
    )
    return _swap(store, stmt)


def refresh_lock(store: Store, key: str, owner: str) -> bool:
    """Renew the heartbeat; False if the lock was taken over (the owner was thought dead)."""
    stmt = (
        update(WorkLock)
        .where(WorkLock.key == key, WorkLock.owner == owner)
        .values(heartbeat=time.time())
    )
    return _swap(store, stmt)


def release_lock(store: Store, key: str, owner: str) -> None:
    with store.session() as s:
        s.execute(delete(WorkLock).where(WorkLock.key == key, WorkLock.owner == owner))


# ---- stale trials -----------------------------------------------------------------------------


def worker_tag(worker: str, trial_number: int) -> str:
    """The ``worker`` attribute of a trial: the process id *and* the trial's number, because a
    retried trial copies the attributes of the trial it retries."""
    return f"{worker}#{trial_number}"


def beat_now(study: optuna.Study, trial_id: int) -> None:
    """Record the trial's first heartbeat now, before its worker tags it.

    Optuna's heartbeat thread records the first beat asynchronously, and Optuna never counts a
    RUNNING trial without any beat as stale: a worker killed in that moment left its trial
    RUNNING for ever, and the study waited for it for ever. With this, a trial carrying its
    worker's tag has a heartbeat; :func:`fail_stale` handles one that never got the tag.
    """
    compat.heartbeat_now(study, trial_id)


def untagged_after() -> float:
    """Seconds after which a RUNNING trial whose worker never tagged it counts as abandoned:
    twice the heartbeat grace period plus SQLite's busy timeout (a live worker tags its trial
    within milliseconds, or after waiting that long for the write lock at worst)."""
    from nas.storage.db import SQLITE_TIMEOUT_SECONDS, heartbeat_settings

    return 2.0 * heartbeat_settings()[1] + SQLITE_TIMEOUT_SECONDS


def _abandoned(t: optuna.trial.FrozenTrial, tag: object, now: datetime, limit: float) -> bool:
    """The trial's worker is certainly gone: it exited (same machine), or it never tagged the
    trial (killed between Optuna's ``ask`` and the objective) long ago."""
    if isinstance(tag, str):
        worker, _, number = tag.rpartition("#")
        if number == str(t.number):
            return certainly_dead(worker)
    # no tag, or one copied from the trial this one retries
    start = t.datetime_start
    return start is not None and (now - start).total_seconds() > limit


def fail_stale(
    study: optuna.Study,
    running: Sequence[FrozenTrial] | None = None,
    *,
    heartbeats: bool = True,
) -> int:
    """Fail RUNNING trials whose worker is gone, and re-queue them (Optuna's retry callback).

    Optuna's heartbeat check fails trials whose heartbeat is older than the grace period; on
    top of that a trial whose worker ran on this machine and certainly exited is failed at
    once, and one that its worker never tagged (see :func:`beat_now`) after
    :func:`untagged_after` seconds.

    ``running``: the study's RUNNING trials as the caller last read them (read now when not
    given); a trial in it that has finished meanwhile is left alone. ``heartbeats=False``
    skips Optuna's check (a query; the trial loop runs it at most once a second).

    Returns:
        How many trials the second part failed (Optuna's check does not say).
    """
    import copy
    import warnings

    from optuna.exceptions import UpdateFinishedTrialError

    from nas.storage import keys

    if heartbeats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    # An in-memory study (benchmarks, library use) has no heartbeat, and only one process that
    # could own its trials.
    if not compat.has_heartbeat(study):
        return 0
    storage = compat.storage_of(study)
    callback = compat.stale_trial_callback(study)
    now = datetime.now()  # Optuna stamps datetime_start with the naive local time
    limit = untagged_after()
    if running is None:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    failed = 0
    for t in running:
        if t.state != TrialState.RUNNING or not _abandoned(
            t, t.user_attrs.get(keys.WORKER), now, limit
        ):
            continue
        try:
            if not storage.set_trial_state_values(compat.trial_id(t), state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # another worker (or Optuna's check just above) failed it first
        failed += 1
        if callback is not None:
            callback(study, copy.deepcopy(storage.get_trial(compat.trial_id(t))))
    return failed
