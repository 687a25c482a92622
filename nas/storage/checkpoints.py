"""Records of trained supernet checkpoint files and their checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nas.storage.db import Store
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


def put(store: Store, key: str, path: Path, meta: dict) -> None:
    """Record (or replace) the checkpoint for ``key`` with the file's current checksum."""
    with store.session() as s:
        s.merge(
            CheckpointRecord(
                key=key,
                path=str(path.resolve()),
                sha256=file_sha256(path),
                size_bytes=path.stat().st_size,
                meta_json=json.dumps(meta, sort_keys=True),
            )
        )
