"""Alembic migrations of nas's tables: head equals the models, old databases are upgraded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from nas.errors import StorageError
from nas.storage import Store, migrate
from nas.storage.tables import Base


def test_head_constant_is_the_scripts_head() -> None:
    assert migrate.script_head() == migrate.HEAD


def test_migrated_schema_equals_the_models(storage_url: str) -> None:
    store = Store(storage_url)
    store.ensure_tables()  # migrations run before the first write, not on opening
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Optuna's tables are not nas's business; anything else is a missing migration
    ours = [d for d in diff if "nas_" in repr(d) and migrate.VERSION_TABLE not in repr(d)]
    assert ours == [], f"nas tables differ from their migrations: {ours}"


def test_database_from_before_migrations_is_upgraded(tmp_path: Path) -> None:
    """A 0.1.0 database: Optuna's tables and some nas tables made by create_all, no version."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    Store(url).ensure_tables()  # a full database, then made to look like one from before
    con = sqlite3.connect(path)
    con.execute("INSERT INTO nas_locks VALUES ('k', 'me', 1.0)")
    con.execute("DROP TABLE nas_searches")
    con.execute("DROP TABLE nas_latency_fit")
    con.execute(f"DROP TABLE {migrate.VERSION_TABLE}")
    con.commit()
    con.close()
    store = Store(url)
    store.ensure_tables()
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
        tables = set(conn.dialect.get_table_names(conn))
        assert {"nas_searches", "nas_latency_fit"} <= tables
        assert conn.execute(text("SELECT owner FROM nas_locks")).scalar() == "me"  # kept


def test_database_of_a_newer_nas_is_refused(storage_url: str) -> None:
    Store(storage_url).ensure_tables()
    eng = create_engine(storage_url)
    with eng.begin() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
    eng.dispose()
    with pytest.raises(StorageError, match="newer nas .revision 9999"):
        Store(storage_url)


def _migrated(store: Store) -> Store:
    store.ensure_tables()
    return store


def test_postgres_migrates_once_with_concurrent_openers(postgres_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import optuna

    # Optuna's own tables first (their creation is Optuna's business); then four openers race
    # to create nas's tables
    optuna.storages.RDBStorage(postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: _migrated(Store(postgres_url)), range(4)))
    with stores[0].engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
