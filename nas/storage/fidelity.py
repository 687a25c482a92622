"""Fidelity records: how well a scorer ranks architectures like training from scratch does.

A record says, for one space version, one data set and one scorer (a study's ``evaluator``
setting, e.g. ``supernet``), how the scorer's order of a reference set of architectures, each
trained from scratch (``benchmarks/reference/``, made by ``benchmarks/bench_reference.py`` and
judged by ``benchmarks/bench_proxy.py --reference``), agrees with their trained accuracies:
Kendall tau with its 95 % bootstrap interval, Spearman rho, and the seed-to-seed tau that
bounds what any scorer can reach on that set.

The records ship with the package as a JSON list (:data:`RECORDS`), one object a record with
exactly the fields of :class:`FidelityRecord` (``kendall_tau_ci`` a two-item list)::

    [{"space": "mobile", "space_version": 3, "space_digest": "0123abcd...",
      "data": "fashion-mnist", "scorer": "supernet",
      "kendall_tau": 0.62, "kendall_tau_ci": [0.48, 0.74], "spearman_rho": 0.8,
      "architectures": 41, "seeds": 2, "seed_tau": 0.85,
      "reference": "benchmarks/reference/mobile-v3-fashion-mnist.csv",
      "measured": "2026-12-07"}]

Every field is checked when the file is read; a bad file is refused with one line naming the
file, the record and the field. No torch here: ``nas show``, the dashboard and the report read
it (see :mod:`nas.analysis.evidence`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from nas.errors import NasInputError

# shipped with the package (pyproject's package-data); filled from bench_proxy's measurements
RECORDS = Path(__file__).resolve().parent.parent / "fidelity_records.json"


class FidelityRecordError(NasInputError):
    """A fidelity records file that cannot be read as one (the message names the field)."""


@dataclass(frozen=True)
class FidelityRecord:
    """One measurement of a scorer's rank fidelity on one reference set."""

    space: str  # space name, as in a study's settings ("mobile")
    space_version: int  # the space file's ``version``
    space_digest: str  # the space's digest: another digest is another space
    data: str  # data set name, as in a study's settings ("fashion-mnist")
    scorer: str  # a study's ``evaluator`` setting ("supernet")
    kendall_tau: float  # scorer vs trained accuracy (mean over seeds), in [-1, 1]
    kendall_tau_ci: tuple[float, float]  # its 95 % bootstrap interval (low, high)
    spearman_rho: float
    architectures: int  # how many reference architectures the correlation rests on
    seeds: int  # training seeds per architecture (the fewest any had)
    seed_tau: float  # Kendall tau between two seeds of the same set: the ceiling
    reference: str  # the reference CSV, relative to the repository root
    measured: str  # ISO date the correlation was measured

    def describe(self) -> str:
        """``mobile v3 on fashion-mnist``: the reference set, in a few words."""
        return f"{self.space} v{self.space_version} on {self.data}"

    def line(self) -> str:
        """The one line people read next to a front (without the ``fidelity:`` label)."""
        low, high = self.kendall_tau_ci
        return (
            f"{scorer_words(self.scorer)} ranks {self.architectures} reference architectures "
            f"({self.space} v{self.space_version}, {self.data}, {self.seeds} seed"
            f"{'s' if self.seeds != 1 else ''}) with Kendall tau {self.kendall_tau:.2f} "
            f"[{low:.2f}, {high:.2f}] (seed-to-seed {self.seed_tau:.2f}); "
            f"measured {self.measured}"
        )


def scorer_words(scorer: str) -> str:
    """What a scorer's number is, for people: ``supernet`` -> ``supernet inherited accuracy``."""
    kind, _, arg = scorer.partition(":")
    if kind == "supernet":
        return "supernet inherited accuracy"
    if kind == "zero-cost":
        return f"zero-cost {arg or 'vote'} score"
    return f"{scorer} score"


_STRINGS = ("space", "space_digest", "data", "scorer", "reference")
_CORRELATIONS = ("kendall_tau", "spearman_rho", "seed_tau")
_COUNTS = ("space_version", "architectures", "seeds")
FIELDS = tuple(f.name for f in fields(FidelityRecord))


def _correlation(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FidelityRecordError(f"{what} must be a number in [-1, 1], got {value!r}")
    if not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise FidelityRecordError(f"{what} must be a finite number in [-1, 1], got {value!r}")
    return float(value)


def _record(raw: Any, where: str) -> FidelityRecord:
    """One record from its JSON object; every field checked (``where`` names it in errors)."""
    if not isinstance(raw, dict):
        raise FidelityRecordError(f"{where}: must be a JSON object, got {type(raw).__name__}")
    missing = [k for k in FIELDS if k not in raw]
    unknown = sorted(k for k in raw if k not in FIELDS)
    if missing or unknown:
        said = [f"missing {', '.join(missing)}"] if missing else []
        said += [f"unknown {', '.join(map(str, unknown))}"] if unknown else []
        raise FidelityRecordError(f"{where}: {'; '.join(said)} (fields: {', '.join(FIELDS)})")
    for k in _STRINGS:
        if not isinstance(raw[k], str) or not raw[k].strip():
            raise FidelityRecordError(f"{where}: {k} must be a non-empty string, got {raw[k]!r}")
    for k in _COUNTS:
        v = raw[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FidelityRecordError(f"{where}: {k} must be a whole number >= 1, got {v!r}")
    corr = {k: _correlation(raw[k], f"{where}: {k}") for k in _CORRELATIONS}
    ci = raw["kendall_tau_ci"]
    if not isinstance(ci, list) or len(ci) != 2:
        raise FidelityRecordError(f"{where}: kendall_tau_ci must be [low, high], got {ci!r}")
    low, high = (_correlation(v, f"{where}: kendall_tau_ci") for v in ci)
    if not low <= corr["kendall_tau"] <= high:
        raise FidelityRecordError(
            f"{where}: kendall_tau_ci [{low}, {high}] must hold kendall_tau {corr['kendall_tau']}"
        )
    try:
        measured = date.fromisoformat(raw["measured"]).isoformat()
    except (TypeError, ValueError):
        raise FidelityRecordError(
            f"{where}: measured must be a date YYYY-MM-DD, got {raw['measured']!r}"
        ) from None
    return FidelityRecord(
        space=raw["space"],
        space_version=raw["space_version"],
        space_digest=raw["space_digest"],
        data=raw["data"],
        scorer=raw["scorer"],
        kendall_tau=corr["kendall_tau"],
        kendall_tau_ci=(low, high),
        spearman_rho=corr["spearman_rho"],
        architectures=raw["architectures"],
        seeds=raw["seeds"],
        seed_tau=corr["seed_tau"],
        reference=raw["reference"],
        measured=measured,
    )


def read_records(path: str | Path | None = None) -> tuple[FidelityRecord, ...]:
    """Every record of ``path`` (default: the records shipped with the package).

    Raises:
        FidelityRecordError: a file that is missing, not JSON, not a list, or a record with a
            missing, unknown or bad field (one line naming the file, record and field).
    """
    p = Path(path) if path is not None else RECORDS
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as e:
        raise FidelityRecordError(
            f"fidelity records {p}: cannot read ({e.strerror or e})"
        ) from None
    return _read(str(p), mtime)


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> tuple[FidelityRecord, ...]:
    """Parsed once per file version (the dashboard asks on every page build)."""
    del mtime_ns  # part of the cache key only: an edited file is read again
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise FidelityRecordError(f"fidelity records {path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise FidelityRecordError(
            f"fidelity records {path}: not JSON ({e.msg} at line {e.lineno})"
        ) from None
    if not isinstance(raw, list):
        raise FidelityRecordError(
            f"fidelity records {path}: must be a JSON list of records, got {type(raw).__name__}"
        )
    return tuple(_record(r, f"fidelity records {path}: record {i}") for i, r in enumerate(raw))


def lookup(
    space_name: str,
    space_digest: str,
    data: str,
    scorer: str,
    path: str | Path | None = None,
) -> FidelityRecord | None:
    """The record of this space (name and digest), data and scorer; the latest measured
    where several match; None where there is none.

    Raises:
        FidelityRecordError: the records file is bad (see :func:`read_records`).
    """
    hits = [
        r
        for r in read_records(path)
        if (r.space, r.space_digest, r.data, r.scorer) == (space_name, space_digest, data, scorer)
    ]
    return max(hits, key=lambda r: r.measured) if hits else None


def best_record(
    space_name: str, space_digest: str, data: str, path: str | Path | None = None
) -> FidelityRecord | None:
    """The record whose scorer ranked this space's reference set on ``data`` best (highest
    Kendall tau; the latest measurement of each scorer counts): what ``--evaluator auto``
    searches with. None where no scorer was measured for this space version and data.

    Raises:
        FidelityRecordError: the records file is bad (see :func:`read_records`).
    """
    latest: dict[str, FidelityRecord] = {}
    for r in read_records(path):
        if (r.space, r.space_digest, r.data) != (space_name, space_digest, data):
            continue
        if r.scorer not in latest or r.measured > latest[r.scorer].measured:
            latest[r.scorer] = r
    return max(latest.values(), key=lambda r: r.kendall_tau, default=None)
