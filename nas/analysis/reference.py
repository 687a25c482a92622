"""Reference sets: architectures trained from scratch, read and written as CSV (no torch).

One row per (architecture, seed). The file sits beside a JSON record of how it was made
(space and its version and digest, data, recipe, code version, machine, wall time), written
by ``benchmarks/bench_reference.py``. Every value read back is checked (finite accuracies in
[0, 1], known columns, an architecture that is a JSON object), so a hand-edited or truncated
file is refused with one line instead of skewing a leaderboard.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nas.errors import NasInputError

COLUMNS = (
    "arch_hash",
    "arch_str",
    "arch_json",
    "seed",
    "val_acc",
    "val_images",
    "params",
    "flops",
    "train_s",
)


@dataclass(frozen=True)
class ReferenceRow:
    arch_hash: str
    arch_str: str
    arch: dict
    seed: int
    val_acc: float  # fraction in [0, 1]
    val_images: int
    params: int
    flops: int
    train_s: float

    def as_csv(self) -> dict[str, str]:
        return {
            "arch_hash": self.arch_hash,
            "arch_str": self.arch_str,
            "arch_json": json.dumps(self.arch, sort_keys=True),
            "seed": str(self.seed),
            "val_acc": f"{self.val_acc:.6f}",
            "val_images": str(self.val_images),
            "params": str(self.params),
            "flops": str(self.flops),
            "train_s": f"{self.train_s:.2f}",
        }


@dataclass(frozen=True)
class ReferenceArch:
    """One architecture of a set with the accuracies of its seeds."""

    arch_hash: str
    arch_str: str
    arch: dict
    params: int
    flops: int
    accs: dict[int, float] = field(default_factory=dict)  # seed -> accuracy

    @property
    def mean_acc(self) -> float:
        return sum(self.accs.values()) / len(self.accs)


class ReferenceError(NasInputError):
    """A reference file that cannot be read as one."""


def _row(raw: dict[str, str], where: str) -> ReferenceRow:
    try:
        arch = json.loads(raw["arch_json"])
        acc = float(raw["val_acc"])
        row = ReferenceRow(
            arch_hash=raw["arch_hash"],
            arch_str=raw["arch_str"],
            arch=arch,
            seed=int(raw["seed"]),
            val_acc=acc,
            val_images=int(raw["val_images"]),
            params=int(raw["params"]),
            flops=int(raw["flops"]),
            train_s=float(raw["train_s"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ReferenceError(f"{where}: not a reference row ({e})") from None
    if not isinstance(arch, dict) or not arch:
        raise ReferenceError(f"{where}: arch_json must be a non-empty JSON object")
    if not (math.isfinite(acc) and 0.0 <= acc <= 1.0):
        raise ReferenceError(f"{where}: val_acc must be a fraction in [0, 1], got {acc}")
    if row.val_images < 1 or row.params < 0 or row.flops < 0 or row.seed < 0:
        raise ReferenceError(f"{where}: negative or zero counts")
    return row


def read_rows(path: Path) -> list[ReferenceRow]:
    """Every row of ``path``; a missing file reads as none (a set being started).

    Raises:
        ReferenceError: wrong header or a bad value (the message names the line).
    """
    if not path.exists():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ReferenceError(
                f"{path}: header must be {','.join(COLUMNS)}, got {reader.fieldnames}"
            )
        return [_row(raw, f"{path}:{i + 2}") for i, raw in enumerate(reader)]


def append_rows(path: Path, rows: Iterable[ReferenceRow]) -> None:
    """Append ``rows`` (writing the header first for a new file), flushed to disk."""
    import os

    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow(row.as_csv())
        f.flush()
        os.fsync(f.fileno())


def by_arch(rows: Iterable[ReferenceRow]) -> list[ReferenceArch]:
    """Rows grouped per architecture, in first-seen order.

    Raises:
        ReferenceError: one architecture and seed twice with different accuracies.
    """
    out: dict[str, ReferenceArch] = {}
    for r in rows:
        ref = out.setdefault(
            r.arch_hash, ReferenceArch(r.arch_hash, r.arch_str, r.arch, r.params, r.flops, {})
        )
        if r.seed in ref.accs and ref.accs[r.seed] != r.val_acc:
            raise ReferenceError(f"{r.arch_str}: seed {r.seed} appears twice, differently")
        ref.accs[r.seed] = r.val_acc
    return list(out.values())


def read_meta(path: Path) -> dict:
    """The JSON record beside a reference CSV (``X.csv`` -> ``X.json``); {} when absent."""
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()) if meta.exists() else {}
