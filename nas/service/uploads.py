"""Uploaded data sets of ``nas serve`` (``POST /api/datasets``): a ``.npz`` checked as ``nas
search --data`` checks one, without pickles and within the unpacked-size cap, then kept under
the data folder's ``uploads/`` by content hash."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from nas.errors import NasInputError
from nas.limits import LimitError


def keep_upload(data_dir: Path, raw: bytes) -> dict[str, Any]:
    """Check an uploaded ``.npz`` and write it under ``data_dir/uploads``; what to answer."""
    info = check_npz(raw)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    rel = f"uploads/{digest}.npz"
    dest = data_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(raw)
        tmp.replace(dest)
    return {"data": rel, **info}


def check_npz(raw: bytes) -> dict[str, Any]:
    """The checks of ``nas search --data`` (:func:`nas.data.checks.check_npz`: zip directory
    and array headers, nothing unpacked), then every member read through once in 1 MiB
    pieces so that a corrupt one is refused now (zipfile checks each CRC), in little memory.

    Raises:
        HTTPException: 413 when it unpacks beyond the cap, 400 for anything else.
    """
    from nas.data import checks

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            x_shape, y_shape = checks.check_npz(z, "the .npz")
            for name in ("x.npy", "y.npy"):
                with z.open(name) as member:
                    while member.read(1 << 20):
                        pass
    except LimitError as exc:
        raise HTTPException(413, str(exc)) from None
    except NasInputError as exc:
        raise HTTPException(400, str(exc)) from None
    except Exception as exc:  # zipfile's errors: not a zip, a bad CRC, a truncated member
        raise HTTPException(
            400, f"not a readable .npz without pickles ({type(exc).__name__})"
        ) from None
    if not x_shape or not y_shape or x_shape[0] != y_shape[0] or x_shape[0] == 0:
        x_n, y_n = (s[0] if s else 0 for s in (x_shape, y_shape))
        raise HTTPException(400, f"x and y must have the same, non-zero length ({x_n}, {y_n})")
    return {"samples": x_shape[0], "x_shape": list(x_shape)}
