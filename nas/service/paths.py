"""Path confinement of ``nas serve``: every path in a request (data, space file, table) must
lie inside the server's data folder, and the request's target must be one the server allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import HTTPException

from nas.data import BUILTIN, builtin_missing
from nas.search.options import SearchOptions
from nas.service.config import ServiceConfig


def confine(data_dir: Path, given: str, what: str) -> Path:
    """``given`` as a path inside ``data_dir``; it must exist and may not leave the folder.

    Raises:
        HTTPException: 400 with the reason.
    """
    root = data_dir.resolve()
    p = Path(given)
    if p.is_absolute() or "\x00" in given:
        raise HTTPException(400, f"{what} must be a path inside the server's data folder")
    full = (root / p).resolve()
    if not full.is_relative_to(root):
        raise HTTPException(400, f"{what} {given!r} leaves the server's data folder")
    if not full.exists():
        raise HTTPException(400, f"{what} {given!r} not found in the server's data folder")
    return full


def resolve_paths(config: ServiceConfig, options: SearchOptions) -> dict[str, Any]:
    """The options the request set (the rest keep their defaults, SearchOptions') with every
    path made absolute inside the data folder."""
    from nas.spaces.loader import builtin_names

    out = options.given()
    space = out.get("space")
    if space is not None and space not in builtin_names():
        out["space"] = str(confine(config.data_dir, str(space), "space file"))
    data = out.get("data")
    if data in BUILTIN:
        missing = builtin_missing(str(data))
        if missing:
            raise HTTPException(
                400,
                f"{missing} on this server: ask its administrator to install it, or upload "
                "a .npz (POST /api/datasets) and pass its name as data",
            )
    elif data is not None:
        out["data"] = str(confine(config.data_dir, str(data), "data"))
    kind, sep, rest = options.evaluator.partition(":")
    if kind == "table" and sep:
        out["evaluator"] = f"table:{confine(config.data_dir, rest, 'table')}"
    target = options.target
    if target not in config.targets and target.partition(":")[0] not in config.targets:
        raise HTTPException(
            400, f"target {target!r} is not allowed here; this server allows {config.targets}"
        )
    return out
