"""Records of trained supernet checkpoint files and their checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nas.storage.db import Store
from nas.storage.paths import base_dir, from_stored, to_stored
from nas.storage.tables import CheckpointRecord


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def get(store: Store, key: str) -> CheckpointRecord | None:
    with store.session() as s:
        return s.get(CheckpointRecord, key)


def path_of(store: Store, record: CheckpointRecord) -> Path:
    """The checkpoint file a record names, here: a relative record is in the database's
    folder as it is now (a copied project folder uses its own copy, never the original's)."""
    return from_stored(record.path, base_dir(store.url))


def put(store: Store, key: str, path: Path, meta: dict) -> None:
    """Record (or replace) the checkpoint for ``key`` with the file's current checksum.

    The path is stored relative to the database's folder when the file is inside it
    (:mod:`nas.storage.paths`).
    """
    with store.session() as s:
        s.merge(
            CheckpointRecord(
                key=key,
                path=to_stored(path, base_dir(store.url)),
                sha256=file_sha256(path),
                size_bytes=path.stat().st_size,
                meta_json=json.dumps(meta, sort_keys=True),
            )
        )
