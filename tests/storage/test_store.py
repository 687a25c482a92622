from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nas.errors import StorageError
from nas.storage import Store
from nas.storage.latency_cache import LatencyCache, shape_key


def test_new_sqlite_storage_is_in_wal_mode(sqlite_url: str, tmp_path: Path) -> None:
    Store(sqlite_url)
    con = sqlite3.connect(tmp_path / "studies.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_storage_gets_nas_tables_on_the_first_write(storage_url: str) -> None:
    store = Store(storage_url)
    assert not store.has_nas_tables()  # made on the first write, not on opening
    with store.session():
        pass
    assert store.has_nas_tables()


def test_opening_a_plain_optuna_database_writes_nothing(tmp_path: Path) -> None:
    """nas's tables and the WAL switch wait for the first write, so a command refused after
    opening (a study not made by nas) leaves another program's Optuna file as it was."""
    import optuna

    path = tmp_path / "plain.db"
    optuna.create_study(study_name="plain", storage=f"sqlite:///{path}")
    before = path.read_bytes()
    store = Store(f"sqlite:///{path}")
    assert optuna.get_all_study_names(store.optuna) == ["plain"]
    store.engine.dispose()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.db"]
    store.ensure_tables()
    assert store.has_nas_tables()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_url_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"takes no \?options \(mode, uri\)"):
        Store(f"sqlite:///{tmp_path / 'x.db'}?mode=ro&uri=true")
    assert list(tmp_path.iterdir()) == []


def test_read_only_database_or_folder_is_refused_up_front(tmp_path: Path, monkeypatch) -> None:
    """As root, permissions do not stop a write, so ``os.access`` (which also reports a
    read-only file system) is what the check asks; here it is told the file is read-only."""
    import os

    import nas.storage.db as db

    path = tmp_path / "studies.db"
    Store(f"sqlite:///{path}").ensure_tables()
    real = os.access
    monkeypatch.setattr(
        db.os, "access", lambda p, mode: False if Path(p) == path else real(p, mode)
    )
    with pytest.raises(StorageError, match="studies.db is read-only"):
        Store(f"sqlite:///{path}")
    Store(f"sqlite:///{path}", read_only=True)  # reading it is fine
    monkeypatch.setattr(db.os, "access", lambda p, mode: Path(p) != tmp_path)
    with pytest.raises(StorageError, match="is read-only; SQLite needs to write beside"):
        Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert not (tmp_path / "new.db").exists()


def test_database_of_another_tool_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="database of another tool"):
        Store(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_non_database_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, not a database\n" * 100)
    with pytest.raises(StorageError, match="not a SQLite database"):
        Store(f"sqlite:///{path}")
    assert path.read_text().startswith("hello")


def test_missing_folder_and_bad_url(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        Store(f"sqlite:///{tmp_path}/no/such/dir/studies.db")
    assert not (tmp_path / "no").exists()
    with pytest.raises(StorageError, match="cannot parse storage URL"):
        Store("not a url")
    with pytest.raises(StorageError, match="cannot open storage"):
        Store("nosuchdialect://x/y")


def test_read_only_does_not_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'absent.db'}", read_only=True)
    assert not (tmp_path / "absent.db").exists()


def test_latency_cache_round_trip(storage_url: str) -> None:
    cache = LatencyCache(Store(storage_url))
    assert cache.get("abc", "fp", (1, 3, 8, 8)) is None
    cache.put("abc", "fp", (1, 3, 8, 8), {"median_ms": 1.5}, {"cpu": "x"})
    cache.put("abc", "fp", (1, 3, 8, 8), {"median_ms": 9.9}, {"cpu": "x"})  # first one wins
    assert cache.get("abc", "fp", (1, 3, 8, 8)) == {"median_ms": 1.5}
    assert cache.get("abc", "fp", (2, 3, 8, 8)) is None
    assert cache.get("abc", "other", (1, 3, 8, 8)) is None
    assert cache.count() == 1
    # shared across Store objects (and so across studies and processes)
    assert LatencyCache(Store(storage_url)).get("abc", "fp", [1, 3, 8, 8]) == {"median_ms": 1.5}
    assert shape_key((1, 3, 224, 224)) == "1x3x224x224"


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("mysql://u:pw@localhost/x", "MySQLdb", "mysqlclient"),
        ("postgresql+pg8000://u:pw@localhost/x", "pg8000", "pg8000"),
    ],
)
def test_missing_database_driver_names_the_package(url: str, module: str, package: str) -> None:
    """'No module named ...' named no fix; the line says which driver and what installs it."""
    pytest.importorskip("sqlalchemy")
    try:
        __import__(module)
    except ImportError:
        pass
    else:  # pragma: no cover - only where someone installed the driver
        pytest.skip(f"{module} is installed here")
    with pytest.raises(StorageError) as info:
        Store(url)
    message = str(info.value)
    assert "pw" not in message  # the password is still hidden
    assert f"no module {module!r}" in message and f"install {package}" in message
    assert "\n" not in message
