"""Train a supernet once per (space, data, schedule, seed) and reuse it afterwards.

Checkpoints are safetensors files (no pickle) written to a temporary name and renamed, and
recorded in the study database with their SHA-256. A file whose checksum no longer matches
is never loaded: the supernet is retrained and the record replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from nas.data import Dataset
from nas.spaces import Space
from nas.storage import Store
from nas.storage import checkpoints as records
from nas.storage.db import sqlite_path
from nas.supernet import Supernet, create_supernet
from nas.supernet.train import TrainConfig, train_supernet

log = logging.getLogger(__name__)
FORMAT_VERSION = 1  # bump when the supernet's parameter layout changes


def checkpoint_key(space: Space, data: Dataset, cfg: TrainConfig) -> str:
    blob = json.dumps(
        {
            "format": FORMAT_VERSION,
            "space": space.digest,
            "data": data.fingerprint(),
            "classes": data.num_classes,
            "train": asdict(cfg),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def default_directory(storage_url: str) -> Path:
    """Beside the SQLite file; ``./nas_checkpoints`` for server databases."""
    path = sqlite_path(storage_url)
    base = path.parent if path is not None else Path.cwd()
    return base / "nas_checkpoints"


def _load(net: Supernet, path: Path) -> None:
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(path)), strict=True)


def _save_atomic(net: Supernet, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(tmp), metadata={"format": str(FORMAT_VERSION)})
    os.replace(tmp, path)


def obtain_supernet(
    store: Store,
    space: Space,
    data: Dataset,
    cfg: TrainConfig,
    *,
    directory: Path,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[Supernet, str]:
    """The trained supernet and how it was obtained: ``"loaded"`` or ``"trained"``."""
    key = checkpoint_key(space, data, cfg)
    net = create_supernet(space, data.num_classes)
    record = records.get(store, key)
    if record is not None:
        path = Path(record.path)
        if path.is_file() and records.file_sha256(path) == record.sha256:
            _load(net, path)
            log.info("loaded supernet checkpoint %s", path)
            return net.eval(), "loaded"
        log.warning("checkpoint %s is missing or its checksum differs; retraining", path)
    train_supernet(net, data, cfg, on_step=on_step)
    path = directory / f"{space.name}-{key[:16]}.safetensors"
    _save_atomic(net, path)
    records.put(store, key, path, {"space": space.name, "data": data.name, **asdict(cfg)})
    return net.eval(), "trained"


def load_supernet(
    store: Store, space: Space, data: Dataset, cfg: TrainConfig
) -> tuple[Supernet, Path]:
    """The trained supernet of ``(space, data, cfg)`` from its checkpoint; never trains.

    Raises:
        StorageError: no checkpoint is recorded for this key, or its file is missing or no
            longer matches its recorded checksum.
    """
    from nas.errors import StorageError

    key = checkpoint_key(space, data, cfg)
    record = records.get(store, key)
    if record is None:
        raise StorageError(
            f"no supernet checkpoint for space {space.name!r} with these settings in "
            f"{store.url}; run 'nas search' with the same options first"
        )
    path = Path(record.path)
    if not path.is_file():
        raise StorageError(f"supernet checkpoint {path} is missing; rerun 'nas search' to retrain")
    if records.file_sha256(path) != record.sha256:
        raise StorageError(
            f"supernet checkpoint {path} does not match its recorded checksum; rerun 'nas search'"
        )
    net = create_supernet(space, data.num_classes)
    _load(net, path)
    return net.eval(), path
