"""Open a storage URL: Optuna's RDB storage plus nas's own tables on the same engine.

SQLite is configured for several local processes: WAL journal (readers never block the
writer), a 60 s busy timeout, and Optuna's heartbeat so a killed worker's trial is failed and
retried. Bad URLs, missing folders and databases of other tools are refused *before* anything
is written.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from nas.errors import StorageError
from nas.storage.tables import Base

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///studies.db"
HEARTBEAT_SECONDS = 15
GRACE_SECONDS = 60
SQLITE_TIMEOUT_SECONDS = 60
OPTUNA_TABLES = {"studies", "trials", "version_info"}


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL (``None`` for other back-ends or memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _check_sqlite_file(path: Path, url: str) -> None:
    if not path.parent.exists():
        raise StorageError(f"cannot open storage {url}: folder {path.parent} does not exist")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            con.close()
    except sqlite3.DatabaseError:
        raise StorageError(f"cannot open storage {url}: {path} is not a SQLite database") from None
    if tables and not tables >= OPTUNA_TABLES:
        raise StorageError(
            f"{path} is a database of another tool (tables: {', '.join(sorted(tables)[:5])}); "
            "give a new file with --storage"
        )


def _sqlite_pragmas(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_con.cursor()
        if not read_only:  # the journal mode is written into the file
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_SECONDS * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def _read_only_connect(path: Path) -> Callable[[], sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS, check_same_thread=False
        )

    return connect


def _retry_stale() -> object:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" since Optuna 2.8, still the API to use
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)


class Store:
    """One storage URL: the Optuna storage and a session helper for nas's own tables."""

    def __init__(self, url: str = DEFAULT_URL, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StorageError(
                f"cannot parse storage URL {url!r}; expected e.g. sqlite:///studies.db "
                "or postgresql://user@host/db"
            ) from None
        path = sqlite_path(url)
        engine_kwargs: dict[str, object] = {}
        if path is not None:
            _check_sqlite_file(path, url)
            if read_only and not path.exists():
                raise StorageError(f"storage {url}: {path} does not exist")
            engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_SECONDS}
            if read_only:
                # SQLite's own read-only mode: a reader (the dashboard, `nas show`) cannot write
                # the file even by accident, yet still sees a running search's commits (WAL).
                engine_kwargs["creator"] = _read_only_connect(path)
            if not read_only:
                # WAL is a property of the file; set it before Optuna creates its tables.
                eng = create_engine(url, **engine_kwargs)  # type: ignore[arg-type]
                _sqlite_pragmas(eng)
                with eng.connect():
                    pass
                eng.dispose()
        else:
            engine_kwargs["pool_pre_ping"] = True
        self.backend = parsed.get_backend_name()
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.optuna = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    heartbeat_stale_trial_callback=_retry_stale(),  # type: ignore[arg-type]
                    skip_table_creation=read_only,
                )
        except (SQLAlchemyError, ImportError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(f"cannot open storage {url}: {first}") from None
        self.engine: Engine = self.optuna.engine
        if path is not None:
            _sqlite_pragmas(self.engine, read_only=read_only)
            if not read_only:
                # Optuna opened (and pooled) connections before the listener existed; drop them
                # so every writing connection gets the pragmas (synchronous=NORMAL: no fsync per
                # commit, which halves a table search). A reader keeps its connections: closing
                # the last one would checkpoint the WAL, and a reader must not change the file.
                self.engine.dispose()
        if not read_only:
            Base.metadata.create_all(self.engine)

    def has_nas_tables(self) -> bool:
        return {"nas_latency", "nas_checkpoints"} <= set(inspect(self.engine).get_table_names())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The one way nas code touches its own tables: commit on success, roll back on error."""
        s = Session(self.engine, expire_on_commit=False)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()
