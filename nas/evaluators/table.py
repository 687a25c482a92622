"""Score architectures by looking them up in a tabular benchmark instead of training.

The way NAS strategies are compared on published benchmarks (NAS-Bench-201, HW-NAS-Bench): a
CSV file with one row per architecture, keyed by the ``arch`` column, which holds the space's
one-line canonical form (:meth:`nas.spaces.Space.describe`; for ``nb201`` the benchmark's own
string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``).

A table without a latency column (``latency_ms``, or the one ``--latency-column`` names) gives
only accuracy: each architecture's network is then built (fresh weights: latency does not
depend on them) and timed on ``--target``, cached like any measured latency, with the cost
metrics every network-building evaluator stores. NAS-Bench-Macro is such a table.

Accuracy columns in these files are percentages; the evaluator divides by 100 so the stored
``accuracy`` is a fraction in [0, 1] like the supernet evaluator's. Latency is read as it is
(milliseconds). Every column of the matched row is stored with the trial as ``table_row``
(values as in the file, percentages included), so a held-out column such as a test accuracy
can be reported for the chosen architecture without being searched on.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import ArchitectureError, NasInputError
from nas.evaluators.base import CandidateError, Evaluation, Evaluator
from nas.limits import MAX_TABLE_BYTES, shorten
from nas.spaces import Space
from nas.spaces.base import Arch
from nas.storage import keys

if TYPE_CHECKING:
    from nas.evaluators.latency import LatencyMeter  # imports torch: a plain table must not

log = logging.getLogger(__name__)

KEY_COLUMN = "arch"
DEFAULT_ACCURACY_COLUMN = "accuracy"
DEFAULT_LATENCY_COLUMN = "latency_ms"
# The classifier of networks timed for a table: the published tables (NAS-Bench-201 on
# CIFAR-10, NAS-Bench-Macro) are 10-way; the classifier is a negligible share of the latency.
TABLE_CLASSES = 10
_PROBES = 16  # sampled architectures that must hit the table before a search starts


class TableError(NasInputError):
    """A table file, column or key layout that cannot be used."""


@dataclass(frozen=True)
class TableSpec:
    """Where the table is and which columns are searched."""

    path: Path
    accuracy_column: str = DEFAULT_ACCURACY_COLUMN
    latency_column: str | None = DEFAULT_LATENCY_COLUMN  # None: measured on the target

    def describe(self) -> str:
        """What a study records as its evaluator: a resume must name the same file and columns."""
        latency = self.latency_column or "measured on the target"
        return f"table:{self.path.resolve()} accuracy={self.accuracy_column} latency={latency}"


def latency_column(path: Path, given: str | None) -> str | None:
    """The latency column to read: ``given`` (``--latency-column``), else ``latency_ms`` where
    the table has it, else None (latency measured on the target)."""
    if given is not None:
        return given
    try:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return DEFAULT_LATENCY_COLUMN  # the evaluator reports what is wrong with the file
    return DEFAULT_LATENCY_COLUMN if DEFAULT_LATENCY_COLUMN in header else None


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (16 hex digits): a changed table refuses a resume."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value (numpy scalars unwrapped, NaN as None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _read_checked(spec: TableSpec) -> Any:
    """The table of ``spec`` as a pandas frame, refused (:class:`TableError`, one line) where
    it is missing, too large, not a CSV, lacks a named column, or holds values out of range."""
    import pandas as pd

    path = spec.path
    if not path.is_file():
        raise TableError(f"table {path} does not exist")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise TableError(
            f"table {path}: {path.stat().st_size:,} bytes, above the cap of "
            f"{MAX_TABLE_BYTES:,} (nas.limits.MAX_TABLE_BYTES)"
        )
    try:
        # pandas 3 parses floats round-trip exactly (tests compare with float(text))
        frame = pd.read_csv(path, dtype={KEY_COLUMN: str})  # "00000001" stays a string
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).strip()  # pandas ends its messages with a newline
        raise TableError(f"table {path} is not a readable CSV file: {reason}") from None
    columns = [str(c) for c in frame.columns]
    numeric = [c for c in (spec.accuracy_column, spec.latency_column) if c is not None]
    for role, col in (
        ("key", KEY_COLUMN),
        ("accuracy", spec.accuracy_column),
        ("latency", spec.latency_column),
    ):
        if col is not None and col not in columns:
            raise TableError(
                f"table {path.name} has no {role} column {col!r}; "
                f"its columns are: {', '.join(columns)}"
            )
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise TableError(f"column {col!r} of table {path.name} is not numeric")
    for col in numeric:
        values = frame[col]
        bad = values[values.isin([math.inf, -math.inf]) | (values < 0)]
        if len(bad):  # an empty cell (NaN) is a missing value, refused per architecture
            row = int(bad.index[0]) + 2  # the file's line: the header is line 1
            raise TableError(
                f"column {col!r} of table {path.name} must hold finite numbers >= 0; line "
                f"{row} has {bad.iloc[0]} ({len(bad)} such value(s))"
            )
    acc = frame[spec.accuracy_column]
    if ((acc < 0) | (acc > 100)).any():
        raise TableError(
            f"column {spec.accuracy_column!r} of table {path.name} must hold percentages "
            f"in [0, 100]; found {acc.min()} .. {acc.max()}"
        )
    repeated = frame[KEY_COLUMN][frame[KEY_COLUMN].duplicated()]
    if len(repeated):
        raise TableError(f"table {path.name} has the key {repeated.iloc[0]!r} more than once")
    return frame


class TableEvaluator(Evaluator):
    """Look each architecture up in a CSV table (see the module docstring).

    Raises (on construction):
        TableError: missing or unreadable file, no ``arch`` column, unknown or non-numeric
            accuracy/latency column, accuracy outside [0, 100], repeated keys, or keys that
            are not architectures of ``space``.
    """

    name = "table"

    def __init__(
        self, space: Space, spec: TableSpec, *, latency: LatencyMeter | None = None
    ) -> None:
        """``latency``: how the networks are timed where ``spec`` has no latency column
        (``None`` while the table is only being checked)."""
        self.space = space
        self.spec = spec
        self.latency = latency
        self._target_facts: tuple[dict[str, Any], str] | None = None
        frame = _read_checked(spec)
        # One dict lookup per candidate: the whole point of a table is that a budget of
        # hundreds of trials takes seconds.
        self.rows: dict[str, dict[str, Any]] = {
            str(rec[KEY_COLUMN]): {k: _plain(v) for k, v in rec.items()}
            for rec in frame.to_dict(orient="records")
        }
        self._check_keys()

    def _check_keys(self) -> None:
        """Refuse a table for another space before anything is written."""
        rng = random.Random(0)
        probes = [self.space.describe(self.space.sample(rng)) for _ in range(_PROBES)]
        if not any(p in self.rows for p in probes):
            first = next(iter(self.rows), "(no rows)")
            raise TableError(
                f"table {self.spec.path.name} has none of {_PROBES} sampled architectures of "
                f"space {self.space.name!r} (e.g. {probes[0]!r}); its keys look like {first!r}"
            )
        foreign = []
        for line, key in enumerate(self.rows, start=2):  # the header is line 1
            try:
                self.space.parse_key(key)
            except ArchitectureError:
                foreign.append((line, key))
        if foreign:  # a search never samples these rows: refusing beats ignoring them silently
            line, key = foreign[0]
            raise TableError(
                f"table {self.spec.path.name}: {len(foreign)} of {len(self.rows)} keys are not "
                f"architectures of space {self.space.name!r} (line {line}: {shorten(key)}); "
                "remove those rows or pick the table's --space"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def evaluate(self, arch: Arch, arch_hash: str) -> Evaluation:
        t0 = time.perf_counter()
        key = self.space.describe(arch)
        row = self.rows.get(key)
        if row is None:
            raise CandidateError(
                f"architecture {key} is not in table {self.spec.path.name} "
                f"({len(self.rows)} rows keyed by column {KEY_COLUMN!r})"
            )
        column = self.spec.latency_column
        acc = row[self.spec.accuracy_column]
        lat = row[column] if column is not None else 0.0
        if acc is None or lat is None:
            raise CandidateError(
                f"architecture {key} has no value in column "
                f"{self.spec.accuracy_column if acc is None else column!r} "
                f"of table {self.spec.path.name}"
            )
        if column is None:
            return self._timed(arch, float(acc) / 100.0, row, t0)
        return Evaluation(
            accuracy=float(acc) / 100.0,
            latency_ms=float(lat),
            attrs={
                keys.TABLE_ROW: row,
                keys.LATENCY_SOURCE: "table",
                keys.EVAL_SECONDS: time.perf_counter() - t0,
            },
        )

    def _timed(self, arch: Arch, accuracy: float, row: dict[str, Any], t0: float) -> Evaluation:
        """The table's accuracy with latency (and cost metrics) measured on the target."""
        from nas.evaluators.latency import measure_network
        from nas.supernet import create_subnet
        from nas.supernet.seeding import seeded

        assert self.latency is not None, "a table without latency needs a LatencyMeter"
        if self._target_facts is None:
            target = self.latency.target
            self._target_facts = (target.fingerprint(), target.fingerprint_id())
        with seeded(0):  # fresh weights: latency does not depend on them
            net = create_subnet(self.space, arch, TABLE_CLASSES).eval()
        attrs, latency_ms = measure_network(
            self.latency,
            arch,
            net,
            accuracy,
            fingerprint=self._target_facts[0],
            fingerprint_id=self._target_facts[1],
            eval_seconds=time.perf_counter() - t0,
        )
        attrs[keys.TABLE_ROW] = row
        return Evaluation(accuracy=accuracy, latency_ms=latency_ms, attrs=attrs)

    def observe(self, accuracy: float, latency_ms: float) -> None:
        if self.latency is not None:
            self.latency.observe(accuracy, latency_ms)
