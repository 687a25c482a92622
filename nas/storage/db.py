"""Open a storage URL: Optuna's RDB storage plus nas's own tables on the same engine.

SQLite is configured for several local processes: WAL journal (readers never block the
writer), a 60 s busy timeout, and Optuna's heartbeat so a killed worker's trial is failed and
retried. The heartbeat interval and grace period can be changed with the environment variables
``NAS_HEARTBEAT_SECONDS`` (default 15) and ``NAS_GRACE_SECONDS`` (default 60), e.g. for tests.
Bad URLs, missing folders and databases of other tools are refused *before* anything is written.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from nas.errors import StorageError
from nas.storage.optuna_compat import (
    OPTUNA_TABLES,
    StaleCallback,
    check_schema,
    holds_tested_schema,
    set_finished_trial_user_attr,
    sqlite_holds_studies,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///studies.db"
HEARTBEAT_SECONDS = 15
GRACE_SECONDS = 60
SQLITE_TIMEOUT_SECONDS = 60


def heartbeat_settings() -> tuple[int, int]:
    """``(interval, grace)`` in seconds of the trial heartbeat, from the environment or defaults.

    A RUNNING trial whose last heartbeat is older than ``grace`` is failed by the next worker and
    re-queued with the same parameters.
    """
    values = []
    for name, default in (
        ("NAS_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
        ("NAS_GRACE_SECONDS", GRACE_SECONDS),
    ):
        raw = os.environ.get(name, str(default))
        try:
            v = int(raw)
        except ValueError:
            v = 0
        if v < 1:
            raise StorageError(f"{name} must be a whole number of seconds >= 1, got {raw!r}")
        values.append(v)
    interval, grace = values
    if grace <= interval:
        raise StorageError(
            f"NAS_GRACE_SECONDS ({grace}) must be larger than NAS_HEARTBEAT_SECONDS ({interval})"
        )
    return interval, grace


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL (``None`` for other back-ends).

    Raises:
        StorageError: a URL that does not parse, or SQLite in memory (:func:`_parse_url`).
    """
    u = _parse_url(url)
    if u.get_backend_name() != "sqlite" or not u.database:
        return None
    return Path(u.database)


def _check_sqlite_file(path: Path, url: str) -> None:
    if not path.parent.exists():
        raise StorageError(f"cannot open storage {url}: folder {path.parent} does not exist")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        # only "file is not a database" means that; "unable to open" is a permission or a
        # read-only folder (a WAL database needs its -shm beside it), said as such
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StorageError(
                f"cannot open storage {url}: {path} is not a SQLite database"
            ) from None
        raise StorageError(f"cannot open storage {url}: {path}: {exc}") from None
    if tables and not tables >= OPTUNA_TABLES:
        raise StorageError(
            f"{path} is a database of another tool (tables: {', '.join(sorted(tables)[:5])}); "
            "give a new file with --storage"
        )


def _holds_studies(path: Path) -> bool:
    """Whether the SQLite file at ``path`` holds at least one Optuna study (read-only)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return sqlite_holds_studies(con)
    finally:
        con.close()


def _check_writable(path: Path, url: str) -> None:
    """A storage that will be written must be writable: the file, and its folder (SQLite puts
    its -wal and -shm files beside it). Checked before anything is written or computed."""
    folder = path.parent
    if path.exists() and not os.access(path, os.W_OK):
        raise StorageError(
            f"cannot open storage {url}: {path.name} is read-only; nas search writes its trials "
            "there: copy it to a writable folder, or read it with nas show / nas dashboard"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"cannot open storage {url}: folder {folder} is read-only; SQLite needs to write "
            "beside the database: give a --storage in a writable folder"
        )


def _sqlite_pragmas(engine: Engine, *, set_wal: bool = False, immediate: bool = False) -> None:
    """WAL, busy timeout and (``immediate``) write-locking transactions on every connection.

    Why ``BEGIN IMMEDIATE``: Optuna reads and then writes in one transaction. In WAL mode a
    deferred transaction that read before another process committed cannot upgrade to a write
    and fails at once with "database is locked" -- the busy timeout does not help there.
    Taking the write lock at BEGIN makes such transactions wait their turn (up to the busy
    timeout) instead. Readers outside a transaction are never blocked (WAL). A read-only store
    leaves the journal mode alone: it is written into the file (``set_wal`` for a new file).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con, _record):  # type: ignore[no-untyped-def]
        if immediate:
            dbapi_con.isolation_level = None  # pysqlite must not BEGIN on its own
        cur = dbapi_con.cursor()
        if set_wal:  # written into the file: only for a new one (see Store.ensure_tables)
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_SECONDS * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    if immediate:

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 if only it is there."""
    from importlib.util import find_spec

    u = make_url(url)
    if u.drivername == "postgresql" and not find_spec("psycopg") and find_spec("psycopg2"):
        return u.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def _read_only_connect(path: Path) -> Callable[[], sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS, check_same_thread=False
        )

    return connect


def _retry_stale() -> StaleCallback:
    """What happens to a trial failed as stale (by Optuna's heartbeat sweep or nas's, see
    :func:`nas.storage.coordination.fail_stale`): re-queued (Optuna's retry, up to twice), and
    given its ``fail_reason``, which a kill -9 leaves no one else to write."""
    import warnings

    from nas.storage import keys

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" since Optuna 2.8, still the API to use
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)

    def on_stale(study: optuna.Study, trial: FrozenTrial) -> None:
        retry(study, trial)  # first: the retry copies the failed trial's user attributes
        set_finished_trial_user_attr(study, trial, keys.FAIL_REASON, keys.STALE_REASON)

    return on_stale


def _parse_url(url: str) -> URL:
    """The parsed URL of a database that outlives this process.

    Raises:
        StorageError: not a URL (SQLAlchemy raises ``ValueError`` for a bad port or an
            unclosed ``[`` of an IPv6 host), or SQLite in memory, which would vanish with the
            process and which no worker or heartbeat thread could share.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(
            f"cannot parse storage URL {_hide_password(url)!r}; expected e.g. "
            "sqlite:///studies.db or postgresql://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StorageError(
            f"storage {url} is SQLite in memory, lost when nas exits and invisible to its "
            "workers; name a file: sqlite:///studies.db"
        )
    return parsed


def _hide_password(url: str) -> str:
    """``url`` with what lies between ``user:`` and ``@`` starred (it could not be parsed,
    so SQLAlchemy cannot hide the password)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def _sqlite_engine_kwargs(url: str, parsed: URL, path: Path, read_only: bool) -> dict[str, object]:
    """The engine arguments of a SQLite file, checked first; a new file is switched to WAL."""
    if parsed.query:  # "?mode=ro" would be taken as part of the file name
        raise StorageError(
            f"cannot open storage {url}: a sqlite URL takes no ?options "
            f"({', '.join(sorted(parsed.query))}); nas sets SQLite's own"
        )
    _check_sqlite_file(path, url)
    if read_only and not path.exists():
        raise StorageError(f"storage {url}: {path} does not exist")
    if not read_only:
        _check_writable(path, url)
    engine_kwargs: dict[str, object] = {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
    if read_only:
        # SQLite's own read-only mode: a reader (the dashboard, `nas show`) cannot write
        # the file even by accident, yet still sees a running search's commits (WAL).
        engine_kwargs["creator"] = _read_only_connect(path)
    if not read_only and not _holds_studies(path):
        # A new file (or one without studies yet, e.g. made by a program that polls
        # it): WAL before Optuna writes, so that readers never block the writer. A file
        # holding studies is switched on its first write (ensure_tables): a command
        # refused before that leaves it as it was.
        # WAL is a property of the file; set it before Optuna creates its tables.
        eng = create_engine(url, **engine_kwargs)  # type: ignore[arg-type]
        _sqlite_pragmas(eng, set_wal=True)
        with eng.connect():
            pass
        eng.dispose()
    return engine_kwargs


def _light_reader(engine_url: str, engine_kwargs: dict[str, object]) -> Engine | None:
    """A read-only SQLite engine without Optuna's storage, when the file holds a schema this
    release reads (None: open it through Optuna, which says what is wrong). Optuna's storage
    costs a third of a second to open (it imports Alembic to check the schema): most of
    ``nas show``'s time on a quiet machine, where plain SQL reads all it prints."""
    engine = create_engine(engine_url, **engine_kwargs)  # type: ignore[arg-type]
    try:
        with engine.connect() as con:
            if holds_tested_schema(con):
                return engine
    except SQLAlchemyError:
        pass
    engine.dispose()
    return None


IDLE_PING_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """Test a server connection before use when it idled in the pool for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout: one round trip per transaction,
    about 20 per trial of a table search. A connection reused within milliseconds is not the
    one a server restart or an idle timeout (a long supernet training) has closed, so only one
    that idled :data:`IDLE_PING_SECONDS` is pinged; a dead one is replaced, as with
    ``pool_pre_ping`` (SQLAlchemy's "pessimistic disconnect handling" with a checkout event).
    """
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_con, record):  # type: ignore[no-untyped-def]
        record.info["nas_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_con, record, _proxy):  # type: ignore[no-untyped-def]
        since = record.info.get("nas_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # new, or reused at once
        try:
            cur = dbapi_con.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as exc:  # whatever the driver raises for a closed connection
            raise DisconnectionError(str(exc)) from exc  # the pool reconnects and retries


class Store:
    """One storage URL: the Optuna storage and a session helper for nas's own tables."""

    def __init__(self, url: str = DEFAULT_URL, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self.heartbeat_seconds, self.grace_seconds = heartbeat_settings()
        parsed = _parse_url(url)
        path = sqlite_path(url)
        self._tables_ready = read_only  # a reader never creates nas's tables
        engine_kwargs: dict[str, object]
        if path is not None:
            engine_kwargs = _sqlite_engine_kwargs(url, parsed, path, read_only)
        else:
            engine_kwargs = {}  # pings only after idling: _ping_idle_connections
        engine_url = url if path is not None else _with_installed_driver(url)
        shown = parsed.render_as_string(hide_password=True)  # never print a password
        self.backend = parsed.get_backend_name()
        self._optuna: RDBStorage | None = None
        self._optuna_args = (engine_url, engine_kwargs, shown)
        light = _light_reader(engine_url, engine_kwargs) if read_only and path else None
        if light is not None:  # Optuna's storage opened only if something asks for it
            self.engine: Engine = light
        else:
            self._optuna = self._open_optuna(engine_url, engine_kwargs, shown)
            self.engine = self._optuna.engine
        if path is not None:
            _sqlite_pragmas(self.engine, immediate=not read_only)
            if not read_only:
                # Optuna opened (and pooled) connections before the listener existed; drop them
                # so every writing connection gets the pragmas (synchronous=NORMAL: no fsync per
                # commit, which halves a table search). A reader keeps its connections: closing
                # the last one would checkpoint the WAL, and a reader must not change the file.
                self.engine.dispose()
        else:
            _ping_idle_connections(self.engine)
        self._sqlite = path is not None
        self._shown = shown
        if not read_only:
            from nas.storage.migrate import check_revision

            check_revision(self.engine, shown)  # a newer nas's tables: refused before writing

    @property
    def optuna(self) -> RDBStorage:
        """Optuna's storage of the URL (a light reader opens it on first use)."""
        if self._optuna is None:
            self._optuna = self._open_optuna(*self._optuna_args)  # type: ignore[arg-type]
        return self._optuna

    def _open_optuna(
        self, engine_url: str, engine_kwargs: dict[str, object], shown: str
    ) -> RDBStorage:
        """Optuna's storage on ``engine_url``, its schema checked; a failure in one line."""
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    engine_url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=self.heartbeat_seconds,
                    grace_period=self.grace_seconds,
                    heartbeat_stale_trial_callback=_retry_stale(),  # type: ignore[arg-type]
                    skip_table_creation=self.read_only,
                )
        except (
            SQLAlchemyError,
            ImportError,
            ValueError,
            RuntimeError,
            optuna.exceptions.OptunaError,
        ) as exc:
            root: BaseException = exc
            while root.__cause__ is not None:  # the driver's words: "connection refused"...
                root = root.__cause__
            text = str(root).strip()
            first = text.splitlines()[0] if text else type(root).__name__
            if isinstance(root, ImportError):  # "No module named 'psycopg'" names no fix
                first = _missing_driver(engine_url, root)
            raise StorageError(f"cannot open storage {shown}: {first}") from None
        try:
            check_schema(storage, shown)  # nas reads Optuna's tables: tested revisions only
        except StorageError:
            storage.engine.dispose()
            raise
        return storage

    def ensure_tables(self) -> None:
        """Create nas's own tables (and switch SQLite to WAL) before the first write.

        Not done on opening, so that a command refused after opening (a study not made by
        nas, an option checked against the study) leaves the database byte for byte as it was.
        """
        if self._tables_ready:
            return
        if self._sqlite:
            raw = self.engine.raw_connection()  # outside a transaction: WAL cannot be set in one
            try:
                cur = raw.cursor()
                if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
            finally:
                raw.close()
        from nas.storage.migrate import upgrade

        upgrade(self.engine, self._shown)
        self._tables_ready = True

    def has_nas_tables(self) -> bool:
        return {"nas_latency", "nas_checkpoints"} <= set(inspect(self.engine).get_table_names())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The one way nas code touches its own tables: commit on success, roll back on error."""
        self.ensure_tables()
        s = Session(self.engine, expire_on_commit=False)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


# The pip package that provides each SQLAlchemy driver module a storage URL may name.
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary (pip install 'nas[postgres]')",
    "psycopg": "psycopg[binary]",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
}


def _missing_driver(engine_url: str, exc: ImportError) -> str:
    """One line saying which database driver is missing and which package installs it."""
    module = (exc.name or "").split(".")[0]
    scheme = engine_url.split(":", 1)[0]
    package = _DRIVER_PACKAGES.get(module, module or "its driver")
    return (
        f"the database driver for {scheme!r} is not installed (no module {module!r}); "
        f"install {package}, or use a postgresql:// or sqlite:/// URL"
    )
