"""Budget slots, architecture claims, locks and stale trials, in-process on each back-end."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from nas.storage import Store, keys
from nas.storage.coordination import (
    acquire_lock,
    claim_arch,
    fail_stale,
    refresh_lock,
    release_lock,
    reserve_slot,
    slot_holders,
    worker_tag,
)
from nas.storage.worker_registry import certainly_dead, worker_id

# trials are driven by hand here (ask/tell), not by Study.optimize
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")


def _study(store: Store, name: str = "s") -> optuna.Study:
    return optuna.create_study(study_name=name, storage=store.optuna)


def _dead_worker() -> str:
    """The id a worker on this machine had, whose process has exited."""
    p = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return worker_id().rpartition(":")[0] + ":" + p.stdout.strip()


def test_slots_never_exceed_the_budget_under_concurrency(storage_url: str) -> None:
    store = Store(storage_url)
    study = _study(store)
    trials = [study.ask() for _ in range(12)]
    got: dict[int, int | None] = {}

    def take(t: optuna.Trial) -> None:
        own = Store(storage_url)  # one engine per thread, like separate workers
        got[t.number] = reserve_slot(own, study, t._trial_id, budget=5)

    threads = [threading.Thread(target=take, args=(t,)) for t in trials]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    winners = [n for n, slot in got.items() if slot is not None]
    assert len(winners) == 5
    assert sorted(got[n] for n in winners) == [0, 1, 2, 3, 4]  # type: ignore[type-var]
    assert len(slot_holders(store, "s")) == 5


def test_failed_trial_frees_its_slot_completed_keeps_it(storage_url: str) -> None:
    store = Store(storage_url)
    study = _study(store)
    a, b, c = study.ask(), study.ask(), study.ask()
    assert reserve_slot(store, study, a._trial_id, 2) == 0
    assert reserve_slot(store, study, b._trial_id, 2) == 1
    assert reserve_slot(store, study, c._trial_id, 2) is None  # both held by RUNNING trials
    assert reserve_slot(store, study, a._trial_id, 2) == 0  # asking again keeps its slot
    study.tell(a, 1.0)
    study.tell(b, state=TrialState.FAIL)
    assert reserve_slot(store, study, c._trial_id, 2) == 1  # b's slot, not a's
    d = study.ask()
    assert reserve_slot(store, study, d._trial_id, 2) is None
    assert reserve_slot(store, study, d._trial_id, 3) == 2  # a larger budget on resume


def test_completed_trials_without_slots_count_against_the_budget(storage_url: str) -> None:
    store = Store(storage_url)
    study = _study(store)
    study.optimize(lambda t: 1.0, n_trials=2)  # e.g. a study made before slots existed
    t = study.ask()
    assert reserve_slot(store, study, t._trial_id, 2) is None
    assert reserve_slot(store, study, t._trial_id, 3) == 0


def test_arch_claim_mine_busy_done_and_takeover(storage_url: str) -> None:
    store = Store(storage_url)
    study = _study(store)
    a, b, c = study.ask(), study.ask(), study.ask()
    assert claim_arch(store, "s", "h1", a._trial_id) == ("mine", a._trial_id)
    assert claim_arch(store, "s", "h1", a._trial_id) == ("mine", a._trial_id)
    assert claim_arch(store, "s", "h1", b._trial_id) == ("busy", a._trial_id)
    study.tell(a, state=TrialState.FAIL)
    assert claim_arch(store, "s", "h1", b._trial_id) == ("mine", b._trial_id)  # takeover
    assert claim_arch(store, "s", "h1", c._trial_id) == ("busy", b._trial_id)
    study.tell(b, 0.5)
    assert claim_arch(store, "s", "h1", c._trial_id) == ("done", b._trial_id)
    # claims are per study
    other = _study(store, "other")
    d = other.ask()
    assert claim_arch(store, "other", "h1", d._trial_id) == ("mine", d._trial_id)


def test_lock_is_exclusive_renewed_and_taken_over_when_stale(storage_url: str) -> None:
    store = Store(storage_url)
    assert acquire_lock(store, "k", "alice", stale_after=60)
    assert not acquire_lock(store, "k", "bob", stale_after=60)
    assert refresh_lock(store, "k", "alice")
    assert not refresh_lock(store, "k", "bob")
    time.sleep(0.3)
    assert acquire_lock(store, "k", "bob", stale_after=0.1)  # alice went silent
    assert not refresh_lock(store, "k", "alice")
    release_lock(store, "k", "alice")  # not hers any more: no effect
    assert not acquire_lock(store, "k", "carol", stale_after=60)
    release_lock(store, "k", "bob")
    assert acquire_lock(store, "k", "carol", stale_after=60)


def test_lock_of_an_exited_process_on_this_machine_is_taken_at_once(storage_url: str) -> None:
    store = Store(storage_url)
    dead = _dead_worker()
    assert certainly_dead(dead) and not certainly_dead(worker_id())
    assert not certainly_dead("elsewhere/abc/[1]:1")  # another machine: only heartbeats count
    assert acquire_lock(store, "k", dead, stale_after=3600)
    assert acquire_lock(store, "k", worker_id(), stale_after=3600)


def test_silent_trial_is_failed_after_the_grace_period_and_requeued(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAS_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("NAS_GRACE_SECONDS", "2")
    monkeypatch.setenv("NAS_PID_CHECK", "0")
    store = Store(storage_url)
    study = _study(store)
    t = study.ask({"x": optuna.distributions.IntDistribution(0, 9)})
    t.set_user_attr(keys.WORKER, worker_tag(_dead_worker(), t.number))
    store.optuna.record_heartbeat(t._trial_id)  # then its worker falls silent
    fail_stale(study)
    assert study.trials[0].state == TrialState.RUNNING  # within the grace period
    time.sleep(3.2)  # SQLite's clock has whole seconds: more than 2 s later, whatever the phase
    fail_stale(study)
    trials = study.trials
    assert trials[0].state == TrialState.FAIL
    assert trials[1].state == TrialState.WAITING
    assert trials[1].params == trials[0].params
    assert trials[1].system_attrs["failed_trial"] == 0
    _assert_stale_reason(store, failed=0, retried=1)


def test_trial_of_an_exited_local_worker_is_failed_at_once(storage_url: str) -> None:
    store = Store(storage_url)
    study = _study(store)
    t = study.ask({"x": optuna.distributions.IntDistribution(0, 9)})
    t.set_user_attr(keys.WORKER, worker_tag(_dead_worker(), t.number))
    alive = study.ask()
    alive.set_user_attr(keys.WORKER, worker_tag(worker_id(), alive.number))
    copied = study.ask()  # a retry copies the attributes of the trial it retries
    copied.set_user_attr(keys.WORKER, worker_tag(_dead_worker(), t.number))
    fail_stale(study)
    states = [tr.state for tr in study.trials]
    assert states[:3] == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]
    assert states[3] == TrialState.WAITING  # re-queued
    _assert_stale_reason(store, failed=0, retried=3)


def _assert_stale_reason(store: Store, *, failed: int, retried: int) -> None:
    """The trial failed as stale says why where fail reasons are read (``nas serve``'s
    trials, through nas.storage.fastread); its retry does not inherit the reason."""
    from nas.storage.fastread import load_trials

    trials = load_trials(store, "s")
    assert trials[failed].user_attrs[keys.FAIL_REASON] == keys.STALE_REASON
    assert keys.FAIL_REASON not in trials[retried].user_attrs


def test_trial_never_tagged_by_its_worker_is_failed_after_a_long_wait(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker killed between Optuna's ask and the objective: no tag, no heartbeat, which
    # Optuna's own check never counts as stale (the study used to wait for it for ever)
    from nas.storage import coordination

    monkeypatch.setenv("NAS_PID_CHECK", "0")
    store = Store(storage_url)
    study = _study(store)
    study.ask({"x": optuna.distributions.IntDistribution(0, 9)})
    fail_stale(study)
    assert study.trials[0].state == TrialState.RUNNING  # it may still be starting
    assert coordination.untagged_after() == 2 * 60 + 60  # defaults: grace 60 s, busy 60 s
    monkeypatch.setattr(coordination, "untagged_after", lambda: 0.5)
    time.sleep(0.7)
    fail_stale(study)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].params == trials[0].params


def test_beat_now_gives_a_fresh_trial_the_heartbeat_the_grace_check_needs(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas.storage.coordination import beat_now

    monkeypatch.setenv("NAS_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("NAS_GRACE_SECONDS", "2")
    monkeypatch.setenv("NAS_PID_CHECK", "0")
    store = Store(storage_url)
    study = _study(store)
    silent = study.ask()
    silent.set_user_attr(keys.WORKER, worker_tag("elsewhere/abc/[1]:1", silent.number))
    beaten = study.ask()
    tag = {keys.WORKER: worker_tag("elsewhere/abc/[1]:1", beaten.number)}
    beat_now(study, beaten._trial_id)
    beaten.set_user_attr(keys.WORKER, tag[keys.WORKER])
    time.sleep(3.2)  # past the grace period (SQLite's clock has whole seconds)
    fail_stale(study)
    states = [t.state for t in study.trials]
    # without a beat Optuna never calls a trial stale; with one, it does after the grace period
    assert states == [TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING]


def test_bad_heartbeat_settings_are_refused(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas.errors import StorageError

    monkeypatch.setenv("NAS_GRACE_SECONDS", "x")
    with pytest.raises(StorageError, match="NAS_GRACE_SECONDS must be a whole number"):
        Store(storage_url)
    monkeypatch.setenv("NAS_GRACE_SECONDS", "10")
    monkeypatch.setenv("NAS_HEARTBEAT_SECONDS", "10")
    with pytest.raises(StorageError, match="must be larger than NAS_HEARTBEAT_SECONDS"):
        Store(storage_url)


def test_fail_stale_leaves_an_in_memory_study_alone() -> None:
    # in-memory studies (the strategies benchmark, library use) have no heartbeat and one process
    from nas.storage.coordination import fail_stale

    study = optuna.create_study(directions=["maximize", "minimize"])
    study.ask()
    fail_stale(study)
    assert [t.state for t in study.trials] == [TrialState.RUNNING]
