from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nas.errors import StorageError
from nas.storage import Store
from nas.storage.latency_cache import LatencyCache, shape_key


def test_new_sqlite_storage_has_optuna_and_nas_tables(storage_url: str, tmp_path: Path) -> None:
    store = Store(storage_url)
    assert store.has_nas_tables()
    con = sqlite3.connect(tmp_path / "studies.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


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
