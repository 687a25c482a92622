"""Latency lookup tables and predictor fits in the database (``nas_latency_lut``/``_fit``).

Rows are keyed by (space digest, target fingerprint id, layer key): a table profiled once is
reused by every later search, validation and process on the same target. This is the storage
side only: :mod:`nas.hardware.lut` builds, fits and validates, and stores through
:class:`LatencyTableStore`. :class:`LayerKey` is the stored format of a key and
:class:`Validation` the stored record of a fit's validation with the thresholds it is judged
by, here so that the dashboard reads tables and judges fits through the storage alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from nas.storage.db import Store
from nas.storage.tables import LatencyFitRecord, LatencyTableRecord


@dataclass(frozen=True)
class LayerKey:
    """The fields that name one lookup-table layer. :meth:`text` is the one format of a key
    (``nas.hardware.lut.lut_key`` builds it from a layer), :func:`parse_key` reads it back
    without torch or the space (the dashboard draws tables from the keys alone)."""

    kind: str  # "stem" | "mbconv" | "head"
    in_ch: int
    out_ch: int
    mid_ch: int
    stride: int
    kernel: int
    expand: int
    classes: int
    batch: int
    height: int
    width: int

    def text(self) -> str:
        return (
            f"{self.kind}:i{self.in_ch}-o{self.out_ch}-m{self.mid_ch}-s{self.stride}"
            f"-k{self.kernel}-e{self.expand}-c{self.classes}-{self.batch}x{self.height}"
            f"x{self.width}"
        )


_KEY = re.compile(
    r"^(?P<kind>\w+):i(?P<in_ch>\d+)-o(?P<out_ch>\d+)-m(?P<mid_ch>\d+)-s(?P<stride>\d+)"
    r"-k(?P<kernel>\d+)-e(?P<expand>\d+)-c(?P<classes>\d+)-(?P<batch>\d+)x(?P<height>\d+)"
    r"x(?P<width>\d+)$"
)


def parse_key(key: str) -> LayerKey | None:
    """The fields of ``key``, or None for a key of another format."""
    m = _KEY.match(key)
    if m is None:
        return None
    kind = m.group("kind")
    return LayerKey(kind, *(int(v) for k, v in m.groupdict().items() if k != "kind"))


# A fit is refused unless its held-out networks show all of these (docs/hardware.md).
MIN_KENDALL_TAU = 0.6  # it must rank networks; a table profiled under load ranks at ~0
MAX_MEDIAN_REL_ERROR = 0.20  # |predicted - measured| / measured, the typical network
MAX_REL_ERROR = 1.0  # the worst network: predicted at most twice its measurement
MIN_HOLDOUT = 4  # Kendall tau on fewer networks says nothing
DEFAULT_HOLDOUT = 10


@dataclass(frozen=True)
class Validation:
    """How a fit predicted ``n`` networks measured end to end and not used in the fit."""

    n: int
    kendall_tau: float
    median_rel_error: float  # |predicted - measured| / measured, fractions
    max_rel_error: float
    validated_at: str  # ISO 8601, UTC
    load: float | None = None  # the machine's 1-minute load average then, where known

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Validation | None:
        """The record stored with a fit, or None when it is missing or malformed."""
        try:
            load = d.get("load")
            return cls(
                int(d["n"]),
                float(d["kendall_tau"]),
                float(d["median_rel_error"]),
                float(d["max_rel_error"]),
                str(d["validated_at"]),
                None if load is None else float(load),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def checks(self) -> list[tuple[bool, str]]:
        """``(passes, what it misses)`` for the held-out count, Kendall tau, median and worst
        error, in that order."""
        return [
            (
                self.n >= MIN_HOLDOUT,
                f"only {self.n} held-out networks (needs >= {MIN_HOLDOUT})",
            ),
            (
                self.kendall_tau >= MIN_KENDALL_TAU,
                f"Kendall tau {self.kendall_tau:.2f} (needs >= {MIN_KENDALL_TAU})",
            ),
            (
                self.median_rel_error <= MAX_MEDIAN_REL_ERROR,
                f"median error {100 * self.median_rel_error:.0f} % "
                f"(needs <= {100 * MAX_MEDIAN_REL_ERROR:.0f} %)",
            ),
            (
                self.max_rel_error <= MAX_REL_ERROR,
                f"worst error {100 * self.max_rel_error:.0f} % "
                f"(needs <= {100 * MAX_REL_ERROR:.0f} %)",
            ),
        ]

    def failures(self) -> list[str]:
        """What the fit misses of the thresholds (empty: it may be used); NaN misses all."""
        return [why for ok, why in self.checks() if not ok]

    def summary(self) -> str:
        """The figures in one phrase, for the search, ``nas hardware`` and the dashboard."""
        load = "" if self.load is None else f", load {self.load:.1f}"
        return (
            f"validated on {self.n} held-out networks: Kendall tau {self.kendall_tau:.3f}, "
            f"median error {100 * self.median_rel_error:.1f} %, worst "
            f"{100 * self.max_rel_error:.1f} % ({self.validated_at}{load})"
        )


@dataclass(frozen=True)
class TableRef:
    """One stored lookup table: a space and a target fingerprint, with its entry count."""

    space_digest: str
    fingerprint_id: str
    entries: int


class LatencyTableStore:
    """Read and write lookup-table entries and fits."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def entries(self, space_digest: str, fingerprint_id: str) -> dict[str, float]:
        """Every stored ``key -> median_ms`` of the table."""
        with self.store.session() as s:
            rows = s.execute(
                select(LatencyTableRecord.key, LatencyTableRecord.median_ms).where(
                    LatencyTableRecord.space_digest == space_digest,
                    LatencyTableRecord.fingerprint_id == fingerprint_id,
                )
            ).all()
        return {k: float(v) for k, v in rows}

    def tables(self) -> list[TableRef]:
        """Every stored table, the largest first."""
        with self.store.session() as s:
            rows = s.execute(
                select(
                    LatencyTableRecord.space_digest,
                    LatencyTableRecord.fingerprint_id,
                    func.count(),
                ).group_by(LatencyTableRecord.space_digest, LatencyTableRecord.fingerprint_id)
            ).all()
        return sorted((TableRef(d, f, int(n)) for d, f, n in rows), key=lambda t: -t.entries)

    def fingerprint(self, space_digest: str, fingerprint_id: str) -> dict[str, Any]:
        """The target fingerprint the table was profiled on (``{"target": "cpu", "runtime":
        ..., "threads": ...}``; empty for a table without entries)."""
        with self.store.session() as s:
            text = s.scalars(
                select(LatencyTableRecord.fingerprint_json)
                .where(
                    LatencyTableRecord.space_digest == space_digest,
                    LatencyTableRecord.fingerprint_id == fingerprint_id,
                )
                .limit(1)
            ).first()
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def fits(self, space_digest: str, fingerprint_id: str) -> dict[int, dict]:
        """Every stored correction of the table: ``num_classes -> {"a", "b", "n", "meta"}``."""
        with self.store.session() as s:
            rows = s.scalars(
                select(LatencyFitRecord).where(
                    LatencyFitRecord.space_digest == space_digest,
                    LatencyFitRecord.fingerprint_id == fingerprint_id,
                )
            ).all()
            return {r.num_classes: _fit_dict(r) for r in rows}

    def put(
        self,
        space_digest: str,
        fingerprint_id: str,
        key: str,
        stats: dict[str, Any],
        fingerprint: dict[str, Any],
    ) -> None:
        """Store one entry; a concurrent writer's row for the same key wins silently."""
        try:
            with self.store.session() as s:
                s.add(
                    LatencyTableRecord(
                        space_digest=space_digest,
                        fingerprint_id=fingerprint_id,
                        key=key,
                        median_ms=float(stats["median_ms"]),
                        stats_json=json.dumps(stats, sort_keys=True),
                        fingerprint_json=json.dumps(fingerprint, sort_keys=True),
                    )
                )
        except IntegrityError:
            pass

    def drop(self, space_digest: str, fingerprint_id: str) -> None:
        """Delete the table's entries and fits (``nas hardware profile --reprofile``)."""
        with self.store.session() as s:
            for record in (LatencyTableRecord, LatencyFitRecord):
                s.execute(
                    delete(record).where(
                        record.space_digest == space_digest,
                        record.fingerprint_id == fingerprint_id,
                    )
                )

    def fit(self, space_digest: str, fingerprint_id: str, num_classes: int) -> dict | None:
        """The stored correction ``{"a", "b", "n", "meta"}`` or None."""
        with self.store.session() as s:
            row = s.scalars(
                select(LatencyFitRecord).where(
                    LatencyFitRecord.space_digest == space_digest,
                    LatencyFitRecord.fingerprint_id == fingerprint_id,
                    LatencyFitRecord.num_classes == num_classes,
                )
            ).first()
            return None if row is None else _fit_dict(row)

    def put_fit(
        self,
        space_digest: str,
        fingerprint_id: str,
        num_classes: int,
        *,
        a: float,
        b: float,
        n: int,
        meta: dict[str, Any],
    ) -> None:
        """Store (replace) the correction of a table."""
        with self.store.session() as s:
            s.execute(
                delete(LatencyFitRecord).where(
                    LatencyFitRecord.space_digest == space_digest,
                    LatencyFitRecord.fingerprint_id == fingerprint_id,
                    LatencyFitRecord.num_classes == num_classes,
                )
            )
            s.add(
                LatencyFitRecord(
                    space_digest=space_digest,
                    fingerprint_id=fingerprint_id,
                    num_classes=num_classes,
                    a=a,
                    b=b,
                    n=n,
                    meta_json=json.dumps(meta, sort_keys=True),
                )
            )


def _fit_dict(row: LatencyFitRecord) -> dict[str, Any]:
    return {"a": row.a, "b": row.b, "n": row.n, "meta": json.loads(row.meta_json)}
