"""The one module that uses Optuna's internals: the schema check and the named functions."""

from __future__ import annotations

import subprocess

import optuna
import pytest

from nas.errors import StorageError
from nas.storage import Store
from nas.storage import optuna_compat as compat
from tests.conftest import nas_cmd, subprocess_env


def _study_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(study_name="s", storage=url).optimize(lambda t: 1.0, n_trials=1)
    return url


def test_the_installed_optuna_writes_a_tested_schema(storage_url: str) -> None:
    """Fails when Optuna moves to a new schema revision: re-check the module's SQL (the storage
    tests compare it with Optuna's own loader) and add the revision to TESTED_SCHEMAS."""
    store = Store(storage_url)
    assert store.optuna.get_head_version() in compat.TESTED_SCHEMAS
    assert store.optuna.get_current_version() in compat.TESTED_SCHEMAS


def test_an_untested_schema_is_refused_in_one_line_before_anything_is_written(
    tmp_path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    url = _study_file(tmp_path)
    path = tmp_path / "studies.db"
    before = path.read_bytes()
    current = Store(url, read_only=True).optuna.get_current_version()
    monkeypatch.setattr(compat, "TESTED_SCHEMAS", frozenset({"v0.9.0.a"}))
    for read_only in (False, True):
        with pytest.raises(StorageError) as err:
            Store(url, read_only=read_only)
        msg = str(err.value)
        assert "\n" not in msg
        assert f"Optuna schema {current}" in msg and "tested: v0.9.0.a" in msg
    from nas.cli import main

    assert main(["studies", "--storage", url]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"Optuna schema {current}" in lines[0], lines
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies.db"]


def test_a_storage_of_an_unknown_optuna_schema_exits_2_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A revision the installed Optuna does not know either (a newer Optuna wrote it)."""
    import sqlite3

    url = _study_file(tmp_path)
    con = sqlite3.connect(tmp_path / "studies.db")
    con.execute("UPDATE alembic_version SET version_num = 'v9.0.0.a'")
    con.commit()
    con.close()
    r = subprocess.run(
        nas_cmd("studies", "--storage", url),
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot open storage" in r.stderr, r.stderr


def test_trial_id_is_the_storage_s_id_not_the_number(storage_url: str) -> None:
    store = Store(storage_url)
    first = optuna.create_study(study_name="a", storage=store.optuna)
    first.optimize(lambda t: 1.0, n_trials=2)
    second = optuna.create_study(study_name="b", storage=store.optuna)
    second.optimize(lambda t: 1.0, n_trials=2)
    trial = second.ask()
    ids = [compat.trial_id(t) for t in second.trials[:2]]
    assert ids == [3, 4] and compat.trial_id(trial) == 5  # the numbers are 0, 1, 2
    assert [store.optuna.get_trial(i).number for i in ids] == [0, 1]


def test_heartbeat_and_stale_callback_of_rdb_and_in_memory_studies(storage_url: str) -> None:
    from sqlalchemy import text

    store = Store(storage_url)
    study = optuna.create_study(storage=store.optuna)
    trial = study.ask()
    assert compat.has_heartbeat(study)
    assert compat.stale_trial_callback(study) is not None  # nas's: re-queue the trial
    beats = text("SELECT trial_id FROM trial_heartbeats")
    with store.engine.connect() as con:
        assert con.execute(beats).all() == []
    compat.heartbeat_now(study, compat.trial_id(trial))
    with store.engine.connect() as con:
        assert con.execute(beats).scalars().all() == [compat.trial_id(trial)]
    memory = optuna.create_study()
    assert not compat.has_heartbeat(memory)
    assert compat.stale_trial_callback(memory) is None
    compat.heartbeat_now(memory, compat.trial_id(memory.ask()))  # nothing to record: no error


def test_system_attr_lands_on_the_trial_being_sampled(storage_url: str) -> None:
    study = optuna.create_study(storage=Store(storage_url).optuna)
    trial = study.ask()
    frozen = study.trials[-1]
    compat.set_trial_system_attr(study, frozen, "x:parent", 7)
    study.tell(trial, 1.0)
    assert study.trials[-1].system_attrs["x:parent"] == 7


def test_change_rows_move_when_a_trial_finishes(storage_url: str) -> None:
    store = Store(storage_url)
    study = optuna.create_study(study_name="s", storage=store.optuna)
    with store.engine.connect() as con:
        empty = compat.change_rows(con)
    trial = study.ask()
    with store.engine.connect() as con:
        running = compat.change_rows(con)
    study.tell(trial, 1.0)
    study.set_user_attr("budget", 3)
    with store.engine.connect() as con:
        done = compat.change_rows(con)
        assert compat.study_rows(con, "missing") is None
        rows = compat.study_rows(con, "s")
    assert len({repr(empty), repr(running), repr(done)}) == 3
    assert rows is not None and [r[2] for r in rows.trials] == [optuna.trial.TrialState.COMPLETE]
    assert rows.values == [(compat.trial_id(trial), 1.0)]
