"""Schema migrations of nas's own tables (``nas_*``), with Alembic, as Optuna does for its own.

Every writing :class:`~nas.storage.Store` calls :func:`upgrade` before its first write
(and :func:`check_revision` on opening): a database made by an earlier
release of nas is brought to this release's tables (a database from before migrations existed
gets the tables it lacks, then the later revisions), and one made by a later release is refused
with a clear message instead of being written with an older layout. The revision is kept in
``nas_alembic_version`` (Optuna's is ``alembic_version``). The scripts are in
``nas/storage/migrations/versions``; a new table or column needs a new revision there, and
tests/storage/test_migrations.py fails until the migrated schema equals :mod:`nas.storage.tables`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from nas.errors import StorageError

log = logging.getLogger(__name__)

VERSION_TABLE = "nas_alembic_version"
HEAD = "0002"  # the newest revision in migrations/versions (a test checks they agree)
SCRIPTS = Path(__file__).with_name("migrations")
# a fixed key for pg_advisory_xact_lock: two processes never migrate one database at once
_PG_LOCK_KEY = 0x6E6173  # "nas"


def current_revision(conn: Connection) -> str | None:
    """The database's revision of nas's tables, ``None`` before the first migration."""
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def _config(conn: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def script_head() -> str:
    """The head revision of the migration scripts shipped with this nas."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def check_revision(engine: Engine, shown_url: str) -> str | None:
    """The database's revision of nas's tables, read only; refuses one a newer nas made.

    A writing store calls this on opening and :func:`upgrade` only on its first write, so a
    command refused in between leaves the database as it was.

    Raises:
        StorageError: the database was made by a newer nas (an unknown revision).
    """
    with engine.connect() as conn:
        rev = current_revision(conn)
    if rev is not None and rev != HEAD and (not rev.isdigit() or rev > HEAD):
        raise StorageError(
            f"storage {shown_url} holds nas tables of a newer nas (revision {rev}, this nas "
            f"knows up to {HEAD}); upgrade nas to open it"
        )
    return rev


def upgrade(engine: Engine, shown_url: str) -> None:
    """Bring nas's tables in ``engine``'s database to :data:`HEAD`.

    Raises:
        StorageError: the database was made by a newer nas (an unknown revision).
    """
    rev = check_revision(engine, shown_url)
    if rev == HEAD:
        return  # the common case, without loading Alembic's scripts
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if current_revision(conn) == HEAD:  # another process migrated while this one waited
            return
        log.info("migrating nas tables of %s from %s to %s", shown_url, rev or "none", HEAD)
        command.upgrade(_config(conn), "head")
