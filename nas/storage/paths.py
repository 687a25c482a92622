"""File paths stored in a study database, relative to the database's folder.

A project folder (``studies.db``, ``nas_checkpoints/``, the user's space file and data) that
is copied or moved must keep working, and must never load the *original* folder's checkpoint
or data. So a path inside the SQLite database's folder is stored relative to that folder
(POSIX form) and resolved against the folder the database is in now; a path outside it (a
shared data set, ``--checkpoint-dir /shared/...``) and every path of a server database
(PostgreSQL: no folder) is stored absolute.

The search options a study records (``space``, ``data``, ``checkpoint_dir``, the table of
``--evaluator table:PATH``) go through :func:`portable_options` when stored and
:func:`local_options` when a worker or ``nas export`` reads them back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nas.errors import StorageError
from nas.storage.db import sqlite_path


def base_dir(storage_url: str) -> Path | None:
    """The folder of a SQLite database (absolute), None for server databases (and for a URL
    that does not parse: opening the storage reports that one, in its own words)."""
    try:
        path = sqlite_path(storage_url)
    except StorageError:
        return None
    return path.resolve().parent if path is not None else None


def to_stored(path: str | os.PathLike[str], base: Path | None) -> str:
    """``path`` as a database stores it: relative to ``base`` when inside it, else absolute."""
    p = Path(path).resolve()
    if base is not None and p.is_relative_to(base):
        return p.relative_to(base).as_posix()
    return str(p)


def from_stored(stored: str, base: Path | None) -> Path:
    """The path a stored value names here (relative ones against ``base``)."""
    p = Path(stored)
    return p if p.is_absolute() or base is None else base / p


def checkpoint_folder(checkpoint_dir: str | None, storage_url: str) -> Path:
    """Where a search keeps its supernet checkpoints: ``--checkpoint-dir``, else
    ``nas_checkpoints/`` beside the SQLite file (``./nas_checkpoints`` for server databases:
    each process's own folder, so it is not stored resolved)."""
    if checkpoint_dir:
        return Path(checkpoint_dir)
    path = sqlite_path(storage_url)
    base = path.parent if path is not None else Path.cwd()
    return base / "nas_checkpoints"


def _is_space_path(value: str) -> bool:
    # the rule of nas.spaces.loader.resolve: a path, not a built-in name
    return os.sep in value or value.endswith((".yaml", ".yml"))


def _is_data_path(value: str) -> bool:
    return value not in ("", "digits") and Path(value).exists()


def _map(options: dict[str, Any], fn: Any, space_test: Any, data_test: Any) -> dict[str, Any]:
    out = dict(options)
    space, data = out.get("space"), out.get("data")
    if isinstance(space, str) and space_test(space):
        out["space"] = fn(space)
    if isinstance(data, str) and data_test(data):
        out["data"] = fn(data)
    if isinstance(out.get("checkpoint_dir"), str) and out["checkpoint_dir"]:
        out["checkpoint_dir"] = fn(out["checkpoint_dir"])
    evaluator = out.get("evaluator")
    if isinstance(evaluator, str) and evaluator.startswith("table:"):
        out["evaluator"] = "table:" + fn(evaluator.removeprefix("table:"))
    return out


def portable_options(options: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """Search options with their file paths made relative to ``base`` where inside it."""
    return _map(options, lambda v: to_stored(v, base), _is_space_path, _is_data_path)


def local_options(options: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """Stored search options with their file paths resolved against ``base``."""

    def is_stored_data(value: str) -> bool:
        return value not in ("", "digits") and from_stored(value, base).exists()

    return _map(options, lambda v: str(from_stored(v, base)), _is_space_path, is_stored_data)


def portable_record(record: str, base: Path | None) -> str:
    """An evaluator record (``table:/abs/path.csv accuracy=...``) with a portable table path."""
    if not record.startswith("table:"):
        return record
    path, sep, rest = record.removeprefix("table:").rpartition(" accuracy=")
    if not sep:
        path, rest = rest, ""
    return f"table:{to_stored(from_stored(path, base), base)}{sep}{rest}"
