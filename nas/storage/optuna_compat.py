"""Every use of Optuna's internals, in one place, checked against Optuna's schema version.

Optuna's public API has no way to do a few things nas needs, so nas reaches past it here and
nowhere else (``tests/test_boundaries.py`` scans the library for private Optuna names and for
SQL that names Optuna's tables outside this module):

- a trial's storage id (``trial._trial_id``): the key of nas's coordination tables;
- a study's storage (``study._storage``) for a sampler's system attributes and Optuna's
  heartbeat interface (``optuna.storages._heartbeat``, private);
- Optuna's constraint bookkeeping (``optuna.samplers._base``), so the evolution sampler stores
  constraint values where Optuna's own samplers read them;
- plain SQL against Optuna's tables (``studies``, ``trials``, ``trial_values``,
  ``trial_params``, ``trial_user_attributes``, ``study_user_attributes``): reading a large
  study through Optuna's ORM takes seconds where four queries take milliseconds.

Those tables belong to Optuna's schema, which Optuna migrates with Alembic (its revision sits
in ``alembic_version``). :func:`check_schema` runs once when a :class:`~nas.storage.Store`
opens: a revision this release was not tested with is refused with one line, before anything
is read or written. When Optuna moves to a new revision, re-run the storage tests (they read
Optuna's own loader and ours side by side) and add the revision to ``TESTED_SCHEMAS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import BaseTrial, FrozenTrial, TrialState
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from nas.errors import StorageError

# Optuna's Alembic revisions whose tables this release reads (Optuna 3.2 to 5.1 write
# v3.2.0.a); a storage at another revision is refused by check_schema.
TESTED_SCHEMAS = frozenset({"v3.2.0.a"})
# Tables every Optuna RDB storage has: a SQLite file with others but not these is another tool's.
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


def check_schema(storage: RDBStorage, shown: str) -> None:
    """Refuse a storage whose Optuna schema revision this release was not tested with.

    Args:
        storage: the opened storage (Optuna has checked it against the installed Optuna).
        shown: the URL as it may be printed (no password).

    Raises:
        StorageError: the revision is not in ``TESTED_SCHEMAS``.
    """
    revision = storage.get_current_version()
    if revision not in TESTED_SCHEMAS:
        raise StorageError(
            f"storage {shown} has Optuna schema {revision}, which this nas release does not "
            f"read (tested: {', '.join(sorted(TESTED_SCHEMAS))}); install an Optuna that "
            "writes a tested schema, or a nas release tested with this one"
        )


def holds_tested_schema(con: Connection) -> bool:
    """Whether the database holds Optuna's tables at a revision in ``TESTED_SCHEMAS``, read as
    stored (``alembic_version``) without opening Optuna's storage; False for a file without
    them (not an Optuna database, or a new one)."""
    from sqlalchemy import inspect

    if "alembic_version" not in inspect(con).get_table_names():
        return False
    revision = con.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision in TESTED_SCHEMAS


# ---- trials and studies -----------------------------------------------------------------------


def trial_id(trial: BaseTrial | FrozenTrial) -> int:
    """The storage's id of ``trial`` (unique in the storage; ``number`` is per study)."""
    return int(trial._trial_id)  # type: ignore[attr-defined]


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage ``study`` reads and writes through (Optuna's cached wrapper for RDB)."""
    return study._storage


def set_trial_system_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """A system attribute on a trial being sampled (where Optuna's samplers keep theirs)."""
    storage_of(study).set_trial_system_attr(trial_id(trial), key, value)


def store_constraints(
    constraints_func: Callable[[FrozenTrial], Sequence[float]],
    study: optuna.Study,
    trial: FrozenTrial,
    state: TrialState,
) -> None:
    """Store a finished trial's constraint values where Optuna's samplers and dashboard read
    them (what Optuna's samplers do in ``after_trial``)."""
    from optuna.samplers._base import _process_constraints_after_trial

    _process_constraints_after_trial(constraints_func, study, trial, state)


def heartbeat_now(study: optuna.Study, trial_id: int) -> None:
    """Record a heartbeat of the trial now (nothing for a storage without heartbeats)."""
    record = getattr(storage_of(study), "record_heartbeat", None)  # None: in-memory storage
    if record is not None:
        record(trial_id)


class Heartbeat:
    """One heartbeat thread per worker that beats the trial the worker runs now.

    What Optuna's ``HeartbeatThread`` does around each trial of ``Study.optimize``, with two
    differences that matter when trials take milliseconds (a table look-up): the thread is
    started once, not per trial, and the first beat of a trial is written synchronously when the
    trial starts (:meth:`beating`), so a tagged trial always has a heartbeat.
    """

    def __init__(self, study: optuna.Study) -> None:
        import threading

        storage = storage_of(study)
        get_interval = getattr(storage, "get_heartbeat_interval", None)  # None: in memory
        self._interval = get_interval() if get_interval is not None else None
        self._storage = storage
        self._trial: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._interval is not None:
            self._thread = threading.Thread(target=self._run, name="nas-heartbeat", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            with self._lock:  # the worker waits for a beat in flight before it moves on
                if self._trial is not None:
                    self._storage.record_heartbeat(self._trial)  # type: ignore[attr-defined]

    @contextmanager
    def beating(self, trial_id: int) -> Iterator[None]:
        """Beat ``trial_id`` now and every interval while the block runs (nothing without
        heartbeats). The first beat is written here, under the thread's lock: written by the
        worker in the transaction that tags the trial, it raced the thread's beat of the same
        trial, and on PostgreSQL the two deadlocked (the tag's transaction locks the trial's
        row, the thread's first INSERT of the heartbeat row needs that row for its foreign key:
        benchmarks/bench_many_workers.py, 8 workers with busy loops, lost a worker that way)."""
        with self._lock:
            self._trial = trial_id
            if self._interval is not None:
                self._storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            with self._lock:
                self._trial = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def ask(study: optuna.Study) -> optuna.Trial:
    """``study.ask()`` for a trial loop that runs the heartbeat thread itself
    (:class:`Heartbeat`): Optuna warns that heartbeats need ``Study.optimize`` because
    only there does it run the thread."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        return study.ask()


def has_heartbeat(study: optuna.Study) -> bool:
    """Whether the study's storage has Optuna's (private) heartbeat interface."""
    return hasattr(storage_of(study), "get_heartbeat_stale_trial_callback")


def stale_trial_callback(study: optuna.Study) -> StaleCallback | None:
    """The storage's callback for a trial failed as stale (nas's: re-queue it), if any."""
    get = getattr(storage_of(study), "get_heartbeat_stale_trial_callback", None)
    return None if get is None else get()  # type: ignore[no-any-return]


# ---- plain SQL against Optuna's tables --------------------------------------------------------

_DROP_USER_ATTR = text('DELETE FROM trial_user_attributes WHERE trial_id = :t AND "key" = :k')
_ADD_USER_ATTR = text(
    'INSERT INTO trial_user_attributes (trial_id, "key", value_json) VALUES (:t, :k, :v)'
)


def set_finished_trial_user_attr(
    study: optuna.Study, trial: FrozenTrial, key: str, value: Any
) -> None:
    """A user attribute on a trial that has already finished, which Optuna's API refuses:
    the reason a stale trial was failed, known only once Optuna's sweep (or nas's) failed it.
    Nothing for a storage that is not a database. A process that has cached the finished
    trial keeps its copy; every other reader sees the attribute."""
    import json

    storage = storage_of(study)
    engine = getattr(getattr(storage, "_backend", storage), "engine", None)
    if engine is None:  # in-memory storage
        return
    with engine.begin() as con:
        con.execute(_DROP_USER_ATTR, {"t": trial_id(trial), "k": key})
        con.execute(_ADD_USER_ATTR, {"t": trial_id(trial), "k": key, "v": json.dumps(value)})


_TRIAL_STATE = text("SELECT state FROM trials WHERE trial_id = :t")
_DROP_USER_ATTRS = text(
    'DELETE FROM trial_user_attributes WHERE trial_id = :t AND "key" IN :keys'
).bindparams(bindparam("keys", expanding=True))


def set_user_attrs(
    study: optuna.Study,
    trial: optuna.Trial,
    attrs: dict[str, Any],
) -> None:
    """``trial.set_user_attr(key, value)`` for every item of ``attrs`` in one transaction of
    three statements, where Optuna spends one transaction of three per attribute (a trial of a
    table search sets nine). Same contract: a trial that is no longer RUNNING (another worker's
    stale-trial sweep failed it) raises ``UpdateFinishedTrialError`` and nothing is written.
    A storage that is not a database gets Optuna's calls. (No heartbeat here: the trial's row
    lock this transaction holds deadlocked with the heartbeat thread's first beat on
    PostgreSQL; :meth:`Heartbeat.beating` writes the first beat.)"""
    import json

    from optuna.exceptions import UpdateFinishedTrialError

    storage = storage_of(study)
    engine = getattr(getattr(storage, "_backend", storage), "engine", None)
    if engine is None or not attrs:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    tid = trial_id(trial)
    rows = [{"t": tid, "k": k, "v": json.dumps(v)} for k, v in attrs.items()]
    check = _TRIAL_STATE
    if engine.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already holds the lock
        check = text(f"{_TRIAL_STATE.text} FOR UPDATE")  # the sweep's update waits for us
    with engine.begin() as con:
        state = con.execute(check, {"t": tid}).scalar()
        if state != TrialState.RUNNING.name:
            raise UpdateFinishedTrialError(
                f"Trial#{trial.number} has already finished and can not be updated."
            )
        con.execute(_DROP_USER_ATTRS, {"t": tid, "keys": list(attrs)})
        con.execute(_ADD_USER_ATTR, rows)
    trial._cached_frozen_trial.user_attrs.update(attrs)  # what Trial.set_user_attr keeps


_STUDY = text("SELECT study_id FROM studies WHERE study_name = :name")
_TRIALS = text(
    "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
    "WHERE study_id = :s AND number >= :min ORDER BY number"
)
_VALUES = text(
    "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
    "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = :s AND t.number >= :min "
    "ORDER BY v.objective"
)
_ATTRS = text(
    'SELECT a.trial_id, a."key", a.value_json FROM trial_user_attributes a '
    "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = :s AND t.number >= :min "
    "ORDER BY a.trial_user_attribute_id"
)
_PARAMS = text(
    "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p "
    "JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = :s AND t.number >= :min "
    "ORDER BY p.param_id"
)
_NTH_LAST_COMPLETE = text(
    "SELECT number FROM trials WHERE study_id = :s AND state = 'COMPLETE' "
    "ORDER BY number DESC LIMIT 1 OFFSET :k"
)
_STUDY_ATTRS = text('SELECT "key", value_json FROM study_user_attributes WHERE study_id = :s')
_STATES = text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s GROUP BY state")
# two user attributes of every complete trial side by side, joined on the (trial_id, key)
# unique index; a trial without both is left out
_POINTS = text(
    "SELECT t.number, a.value_json, b.value_json FROM trials t "
    'JOIN trial_user_attributes a ON a.trial_id = t.trial_id AND a."key" = :acc '
    'JOIN trial_user_attributes b ON b.trial_id = t.trial_id AND b."key" = :lat '
    "WHERE t.study_id = :s AND t.state = 'COMPLETE' ORDER BY t.number"
)
_SOME_TRIALS = text(
    "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
    "WHERE study_id = :s AND number IN :numbers ORDER BY number"
).bindparams(bindparam("numbers", expanding=True))
_SOME_ATTRS = text(
    'SELECT a.trial_id, a."key", a.value_json FROM trial_user_attributes a '
    "WHERE a.trial_id IN :ids ORDER BY a.trial_user_attribute_id"
).bindparams(bindparam("ids", expanding=True))
_CHUNK = 500
# what changes when a trial of the study is added, changes state or gets an attribute: the
# largest trial and attribute ids (primary keys: O(1)) and the study's count per state
_TOKEN = text(
    "SELECT (SELECT MAX(trial_id) FROM trials), "
    "(SELECT MAX(trial_user_attribute_id) FROM trial_user_attributes), "
    "t.state, COUNT(*) FROM trials t WHERE t.study_id = :s GROUP BY t.state ORDER BY t.state"
)
_TRIALS_AFTER = text(
    "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
    "WHERE study_id = :s AND number > :after ORDER BY number"
)
_KEYS_AFTER = text(
    'SELECT a.trial_id, a."key", a.value_json FROM trial_user_attributes a '
    "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = :s AND t.number > :after "
    'AND a."key" IN :keys ORDER BY a.trial_user_attribute_id'
).bindparams(bindparam("keys", expanding=True))
_SOME_KEYS = text(
    'SELECT a.trial_id, a."key", a.value_json FROM trial_user_attributes a '
    'WHERE a.trial_id IN :ids AND a."key" IN :keys ORDER BY a.trial_user_attribute_id'
).bindparams(bindparam("ids", expanding=True), bindparam("keys", expanding=True))
_CHANGES = text(
    "SELECT s.study_name, t.state, COUNT(t.trial_id), MAX(t.trial_id), "
    "MAX(t.datetime_complete) "
    "FROM studies s LEFT JOIN trials t ON t.study_id = s.study_id "
    "GROUP BY s.study_name, t.state ORDER BY s.study_name, t.state"
)
_STUDY_ATTR_CHANGES = text(
    "SELECT COUNT(*), MAX(study_user_attribute_id) FROM study_user_attributes"
)

_INF = {"INF_POS": float("inf"), "INF_NEG": float("-inf")}  # trial_values.value_type


class StudyRows(NamedTuple):
    """A study's rows: ``trials`` (id, number, :class:`TrialState`, start, complete) in number
    order; ``values`` (trial id, value; infinities decoded) in objective order, ``user_attrs``
    (trial id, key, JSON) and ``params`` (trial id, name, internal value, distribution JSON) in
    storage order. Times are as the driver returns them (SQLite: ISO strings)."""

    trials: list[tuple[Any, ...]]
    values: list[tuple[Any, ...]]
    user_attrs: list[tuple[Any, ...]]
    params: list[tuple[Any, ...]]


def study_rows(
    con: Connection, study_name: str, *, params: bool = True, last_complete: int | None = None
) -> StudyRows | None:
    """Every trial row of ``study_name`` (``None``: no such study); ``params=False`` skips
    the parameter rows; ``last_complete=N`` starts at the N-th last complete trial."""
    sid = con.execute(_STUDY, {"name": study_name}).scalar()
    if sid is None:
        return None
    low = 0
    if last_complete is not None:
        low = con.execute(_NTH_LAST_COMPLETE, {"s": sid, "k": last_complete - 1}).scalar() or 0
    q = {"s": sid, "min": low}
    return StudyRows(
        trials=[
            (tid, number, TrialState[state], start, complete)
            for tid, number, state, start, complete in con.execute(_TRIALS, q)
        ],
        values=[
            (tid, _INF.get(value_type, value))
            for tid, _objective, value, value_type in con.execute(_VALUES, q)
        ],
        user_attrs=[tuple(r) for r in con.execute(_ATTRS, q)],
        params=[tuple(r) for r in con.execute(_PARAMS, q)] if params else [],
    )


class StudyHead(NamedTuple):
    """What a study says of itself without reading its trials: its id, user attributes
    (key -> JSON) and the number of trials in each state (state name -> count)."""

    study_id: int
    attrs: dict[str, str]
    states: dict[str, int]


def study_head(con: Connection, study_name: str) -> StudyHead | None:
    """The study's id, user attributes and trial counts (``None``: no such study)."""
    sid = con.execute(_STUDY, {"name": study_name}).scalar()
    if sid is None:
        return None
    return StudyHead(
        study_id=int(sid),
        attrs={k: v for k, v in con.execute(_STUDY_ATTRS, {"s": sid})},
        states={str(state): int(n) for state, n in con.execute(_STATES, {"s": sid})},
    )


def complete_points(
    con: Connection, study_id: int, acc_key: str, lat_key: str
) -> list[tuple[int, str, str]]:
    """``(number, JSON of acc_key, JSON of lat_key)`` of every complete trial that holds both
    user attributes, in number order: what a front is computed from, and nothing else."""
    return [
        tuple(r)  # type: ignore[misc]
        for r in con.execute(_POINTS, {"s": study_id, "acc": acc_key, "lat": lat_key})
    ]


def some_trial_rows(
    con: Connection, study_id: int, numbers: Sequence[int], *, attrs_too: bool = True
) -> StudyRows:
    """The trial and user-attribute rows of the trials ``numbers`` only (no values or
    parameters; no attributes either with ``attrs_too=False``), as :func:`study_rows`."""
    trials: list[tuple[Any, ...]] = []
    attrs: list[tuple[Any, ...]] = []
    wanted = sorted(set(numbers))
    for i in range(0, len(wanted), _CHUNK):  # SQLite caps the number of bound values
        rows = [
            (tid, number, TrialState[state], start, complete)
            for tid, number, state, start, complete in con.execute(
                _SOME_TRIALS, {"s": study_id, "numbers": wanted[i : i + _CHUNK]}
            )
        ]
        if rows and attrs_too:
            attrs += [tuple(r) for r in con.execute(_SOME_ATTRS, {"ids": [r[0] for r in rows]})]
        trials += rows
    return StudyRows(trials=trials, values=[], user_attrs=attrs, params=[])


def study_token(con: Connection, study_id: int) -> tuple[Any, ...]:
    """A value that changes whenever a trial of the study is added, changes state or gets a
    user attribute (and, conservatively, when another study's does): a cache key."""
    rows = [tuple(r) for r in con.execute(_TOKEN, {"s": study_id})]
    return tuple(rows)


def trial_rows_where(
    con: Connection,
    study_id: int,
    *,
    after: int,
    numbers: Sequence[int] = (),
    keys: Sequence[str] = (),
) -> StudyRows:
    """Trial rows numbered above ``after`` and those in ``numbers``, in number order, with
    their user attributes named in ``keys`` only (no values or parameters)."""
    trials = [
        (tid, number, TrialState[state], start, complete)
        for tid, number, state, start, complete in con.execute(
            _TRIALS_AFTER, {"s": study_id, "after": after}
        )
    ]
    attrs = [
        tuple(r)
        for r in con.execute(_KEYS_AFTER, {"s": study_id, "after": after, "keys": list(keys)})
    ]
    if numbers:
        some = some_trial_rows(con, study_id, numbers, attrs_too=False).trials
        ids = [t[0] for t in some]
        for i in range(0, len(ids), _CHUNK):  # SQLite caps the number of bound values
            attrs += [
                tuple(r)
                for r in con.execute(_SOME_KEYS, {"ids": ids[i : i + _CHUNK], "keys": list(keys)})
            ]
        trials = some + trials
    return StudyRows(trials=trials, values=[], user_attrs=attrs, params=[])


def change_rows(con: Connection) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """What changes whenever a trial is added or finishes, or a study attribute is set:
    ``(study name, state, count, max trial id, last completion)`` rows, and the count and
    largest id of the study user attributes."""
    rows = [tuple(r) for r in con.execute(_CHANGES)]
    return rows, tuple(con.execute(_STUDY_ATTR_CHANGES).one())


def sqlite_holds_studies(con: sqlite3.Connection) -> bool:
    """Whether an open SQLite file holds at least one Optuna study (False: no tables yet)."""
    try:
        return con.execute("SELECT 1 FROM studies LIMIT 1").fetchone() is not None
    except sqlite3.DatabaseError:  # no studies table yet
        return False
