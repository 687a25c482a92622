"""The lean trial path (issue 23 item 1): a trial's attributes in one transaction, one heartbeat
thread per worker, one read of the study per trial -- on each back-end."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import optuna
import pytest
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from sqlalchemy import event

from nas.evaluators.base import Evaluation, Evaluator
from nas.reporting import SilentReporter
from nas.search.loop import optimize_until_budget
from nas.search.objective import TrialObjective
from nas.storage import Store
from nas.storage import optuna_compat as compat
from nas.storage import studies as st
from nas.storage.fastread import load_trials
from nas.storage.snapshot import TrialSnapshot
from nas.storage.studies import StudySettings
from nas.strategies import StrategyContext, create_sampler

SETTINGS = StudySettings(
    space="tiny", space_digest="d", data="table:t.csv", data_fingerprint="f",
    strategy="random", objective="pareto", target="table:latency_ms",
    evaluator="table:t.csv", latency_weight=0.0, seed=0,
)  # fmt: skip


class _Hash(Evaluator):
    name = "hash"

    def evaluate(self, arch: dict[str, Any], arch_hash: str) -> Evaluation:
        return Evaluation(accuracy=int(arch_hash[:4], 16) / 65536, latency_ms=1.0)


def test_set_user_attrs_writes_every_key_and_replaces_old_values(storage_url: str) -> None:
    study = optuna.create_study(study_name="s", storage=Store(storage_url).optuna)
    trial = study.ask()
    trial.set_user_attr("kept", 1)
    trial.set_user_attr("arch_hash", "old")  # a retried trial arrives with its attributes
    compat.set_user_attrs(study, trial, {"arch_hash": "new", "row": {"a": [1, 2]}, "x": None})
    assert trial.user_attrs == {"kept": 1, "arch_hash": "new", "row": {"a": [1, 2]}, "x": None}
    study.tell(trial, 1.0)
    (stored,) = load_trials(Store(storage_url), "s")  # a fresh reader
    assert stored.user_attrs == {"kept": 1, "arch_hash": "new", "row": {"a": [1, 2]}, "x": None}


def test_set_user_attrs_on_a_finished_trial_raises_and_writes_nothing(storage_url: str) -> None:
    # what another worker's stale-trial sweep leaves: the loop drops the trial on this error
    study = optuna.create_study(study_name="s", storage=Store(storage_url).optuna)
    trial = study.ask()
    compat.storage_of(study).set_trial_state_values(trial._trial_id, TrialState.FAIL)
    with pytest.raises(UpdateFinishedTrialError):
        compat.set_user_attrs(study, trial, {"accuracy": 0.9, "latency_ms": 1.0})
    (stored,) = load_trials(Store(storage_url), "s")
    assert stored.user_attrs == {}


def test_the_heartbeat_beats_only_the_trial_running_now(sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    study = optuna.create_study(study_name="s", storage=Store(sqlite_url).optuna)
    storage = compat.storage_of(study)
    beats: list[int] = []
    monkeypatch.setattr(storage, "get_heartbeat_interval", lambda: 0.02)
    monkeypatch.setattr(storage, "record_heartbeat", beats.append)
    heartbeat = compat.Heartbeat(study)
    try:
        time.sleep(0.1)
        assert beats == []  # no trial: no beat
        with heartbeat.beating(7):
            time.sleep(0.15)
        n = len(beats)
        time.sleep(0.1)
    finally:
        heartbeat.close()
    assert n >= 2 and set(beats) == {7} and len(beats) == n  # none after the block


def _statement_sites(url: str, tiny_space, trials: int) -> tuple[Counter[str], int]:  # type: ignore[no-untyped-def]
    """Statements of ``trials`` trials of the sampler loop, by nas function that issued them."""
    store = Store(url)
    study = st.create_or_resume(store, "s", SETTINGS, budget=trials)
    snapshot = TrialSnapshot(study)
    ctx = StrategyContext(2, 0, trials, None, tiny_space, trials=lambda: snapshot.trials or [])
    study.sampler = create_sampler("random", ctx)
    objective = TrialObjective(
        tiny_space, _Hash(), SETTINGS, study, store=store, budget=trials, snapshot=snapshot
    )
    sites: Counter[str] = Counter()

    def count(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        import sys

        frame = sys._getframe(1)
        while frame is not None:  # the innermost nas function (the session helper: its caller)
            path = frame.f_code.co_filename.replace("\\", "/")
            if "/nas/" in path and not path.endswith("storage/db.py"):
                break
            frame = frame.f_back  # type: ignore[assignment]
        sites[frame.f_code.co_name if frame is not None else "?"] += 1

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        done = optimize_until_budget(study, objective, trials, SilentReporter())
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return sites, done


def test_a_trial_reads_the_study_once_and_writes_its_attributes_in_three_transactions(
    storage_url: str, tiny_space
) -> None:  # type: ignore[no-untyped-def]
    trials = 6
    sites, done = _statement_sites(storage_url, tiny_space, trials)
    assert done == trials
    # one read of the study per trial (the snapshot), none by the sampler, slots or progress
    # (each read is a handful of statements: trials, values, params, attributes...)
    assert sites["refresh"] <= 9 * trials, sites
    for reader in ("sample_relative", "reserve_slot", "report_trial", "_complete_and_running"):
        assert sites[reader] <= 2 * trials, (reader, sites)  # their own small queries only
    # three transactions: the worker tag, the architecture and the result (four statements
    # each); Optuna spends three per attribute
    assert sites["set_user_attrs"] <= 14 * trials, sites
    assert "heartbeat_now" not in sites and "__call__" not in sites, sites
    # the whole trial but Optuna's writes of the parameters (three statements a label): 114
    # per trial on SQLite before this path was made lean, 65 after
    assert sum(sites.values()) - sites["<dictcomp>"] <= 80 * trials, sites


@pytest.mark.parametrize("idle", [0.0, 3600.0], ids=["idled", "reused-at-once"])
def test_a_closed_idle_connection_is_replaced(postgres_url: str, monkeypatch, idle: float) -> None:  # type: ignore[no-untyped-def]
    # a server restart or idle timeout (a long supernet training) closes pooled connections;
    # one that idled is pinged and replaced (pool_pre_ping did that before every transaction)
    from sqlalchemy import create_engine, text

    from nas.storage import db

    monkeypatch.setattr(db, "IDLE_PING_SECONDS", idle)
    store = Store(postgres_url)
    study = optuna.create_study(study_name="s", storage=store.optuna)
    study.set_user_attr("before", 1)
    killer = create_engine(postgres_url)
    with killer.begin() as con:
        con.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()
    try:
        if idle:  # not pinged: the closed connection is used and fails, as without any ping
            with pytest.raises(optuna.exceptions.StorageInternalError):
                study.set_user_attr("after", 2)
            return
        study.set_user_attr("after", 2)
        reader = Store(postgres_url, read_only=True)
        assert optuna.load_study(study_name="s", storage=reader.optuna).user_attrs == {
            "before": 1,
            "after": 2,
        }
        reader.engine.dispose()
    finally:
        store.engine.dispose()


def test_a_running_trial_s_beat_never_waits_for_its_row_lock(postgres_url: str) -> None:
    """The deadlock bench_many_workers found on PostgreSQL: the worker's transaction that tags
    its trial holds the trial's row (``FOR UPDATE``, so a stale sweep waits), while the heartbeat
    thread's *first* beat INSERTs the heartbeat row, whose foreign key needs that row; the tag's
    transaction then wrote the same heartbeat row and each waited for the other. Now the first
    beat is written when the trial starts, so a later beat is an UPDATE that needs no row lock."""
    import threading

    from sqlalchemy import text

    store = Store(postgres_url)
    study = optuna.create_study(study_name="s", storage=store.optuna)
    trial = compat.ask(study)
    tid = compat.trial_id(trial)
    heartbeat = compat.Heartbeat(study)
    beat = threading.Thread(target=compat.storage_of(study).record_heartbeat, args=(tid,))
    try:
        with heartbeat.beating(tid), store.engine.begin() as con:
            lock = text("SELECT state FROM trials WHERE trial_id = :t FOR UPDATE")
            con.execute(lock, {"t": tid})
            beat.start()  # the thread's next beat while the worker holds the trial's row
            beat.join(timeout=10)
            assert not beat.is_alive(), "the heartbeat waited for the worker's row lock"
    finally:
        heartbeat.close()
        beat.join()
