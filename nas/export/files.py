"""The export folder: file names, atomic writes and the overwrite policy.

Every file is written to a temporary name in the same folder and renamed, so a reader never
sees half a file. JSON is written with sorted keys and a fixed layout so that exporting twice
gives the same bytes.

Overwrite policy: the output folder may be missing, empty, or an earlier nas export (it holds
an ``architecture.json`` whose ``format`` is ours). In an earlier export only nas's own files
(:data:`OWN_FILES`) are replaced or removed; anything else the user put there is left alone. A
folder with other content is refused, so a typo in ``--out`` cannot clobber unrelated files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nas.errors import NasInputError

FORMAT = "nas-export"
FORMAT_VERSION = 1

ARCHITECTURE = "architecture.json"
WEIGHTS = "weights.safetensors"
ONNX = "model.onnx"
TORCHSCRIPT = "model.ts"
METRICS = "metrics.json"
COMPRESSION = "compression.json"
PREDICT = "predict.py"
INT8_ONNX = "model.int8.onnx"
REPORT = "compression_report.json"
REPORT_MD = "compression_report.md"

EXPORT_FILES = (ARCHITECTURE, WEIGHTS, ONNX, TORCHSCRIPT, METRICS, COMPRESSION, PREDICT)
OWN_FILES = (*EXPORT_FILES, INT8_ONNX, REPORT, REPORT_MD)


class ExportError(NasInputError):
    """An export folder that cannot be read or written."""


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def dumps(obj: Any) -> str:
    """The one JSON layout of every nas export file: sorted keys, 2-space indent, newline."""
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, dumps(obj).encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read: {exc}") from None


def is_export(directory: Path) -> bool:
    path = directory / ARCHITECTURE
    if not path.is_file():
        return False
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def check_export(directory: Path) -> None:
    """Raise :class:`ExportError` unless ``directory`` holds a complete nas export."""
    if not directory.is_dir():
        raise ExportError(f"{directory} is not a folder; give the --out folder of 'nas export'")
    if not is_export(directory):
        raise ExportError(
            f"{directory} is not a nas export (no {ARCHITECTURE} written by 'nas export')"
        )
    missing = [f for f in (ARCHITECTURE, WEIGHTS, METRICS) if not (directory / f).is_file()]
    if missing:
        raise ExportError(f"{directory}: incomplete export, missing {', '.join(missing)}")


def check_out_dir(directory: Path) -> None:
    """Refuse an output folder that exists with content other than an earlier nas export."""
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"--out {directory} exists and is not a folder")
    if not directory.exists() or is_export(directory) or not any(directory.iterdir()):
        return
    raise ExportError(
        f"--out {directory} already holds files that are not a nas export; "
        "give a new or empty folder"
    )


def prepare_out_dir(directory: Path, keep: tuple[str, ...]) -> None:
    """Create ``directory`` (after :func:`check_out_dir`) and remove stale nas files.

    ``keep`` are the nas files about to be written; other nas files left by an earlier export
    (say the int8 model of an earlier ``nas compress``) would describe another model.
    """
    check_out_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in OWN_FILES:
        if name not in keep:
            (directory / name).unlink(missing_ok=True)
