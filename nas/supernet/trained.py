"""Train a supernet once per (space, data, schedule, seed) and reuse it afterwards.

Checkpoints are safetensors files (no pickle) written through :mod:`nas.atomic` (temporary
name, fsync, rename), and recorded in the study database with their SHA-256. A file whose
checksum no longer matches is never loaded: the supernet is retrained and the record replaced.

Several workers that need the same supernet train it once: the first takes the database lock
``supernet:KEY`` and trains, the others wait for the checkpoint record and load the file. The
trainer renews the lock while it trains; a lock whose owner stopped renewing it for the grace
period (or, on the same machine, whose process exited) is taken over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from nas.atomic import atomic_path
from nas.data import Dataset
from nas.spaces import Space
from nas.storage import Store
from nas.storage import checkpoints as records
from nas.storage.coordination import acquire_lock, refresh_lock, release_lock
from nas.storage.paths import checkpoint_folder
from nas.storage.worker_registry import worker_id
from nas.supernet import Supernet, create_supernet
from nas.supernet.train import TrainConfig, train_supernet

log = logging.getLogger(__name__)
FORMAT_VERSION = 1  # bump when the supernet's parameter layout changes
POLL_SECONDS = 0.5  # how often a waiting worker looks for the checkpoint


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
    return checkpoint_folder(None, storage_url)


def _load(net: Supernet, path: Path) -> None:
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(path)), strict=True)


def _save_atomic(net: Supernet, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": str(FORMAT_VERSION)})


def _try_load(store: Store, key: str, net: Supernet, warned: set[str]) -> bool:
    """Load the recorded checkpoint of ``key`` if its file still has the recorded checksum."""
    record = records.get(store, key)
    if record is None:
        return False
    path = records.path_of(store, record)
    if path.is_file() and records.file_sha256(path) == record.sha256:
        _load(net, path)
        log.info("loaded supernet checkpoint %s", path)
        return True
    if record.sha256 not in warned:  # say it once, not at every poll
        warned.add(record.sha256)
        log.warning("checkpoint %s is missing or its checksum differs; retraining", path)
    return False


def obtain_supernet(
    store: Store,
    space: Space,
    data: Dataset,
    cfg: TrainConfig,
    *,
    directory: Path,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[Supernet, str]:
    """The trained supernet and how it was obtained: ``"loaded"`` or ``"trained"``.

    Waits while another worker trains the same supernet (see the module docstring).
    """
    key = checkpoint_key(space, data, cfg)
    lock, owner = f"supernet:{key}", worker_id()
    net = create_supernet(space, data.num_classes)
    warned: set[str] = set()
    waiting = False
    while True:
        if _try_load(store, key, net, warned):
            return net.eval(), "loaded"
        if acquire_lock(store, lock, owner, stale_after=store.grace_seconds):
            break
        if not waiting:
            log.info("another worker is training supernet %s; waiting for it", key[:16])
            waiting = True
        time.sleep(POLL_SECONDS)
    try:
        if _try_load(store, key, net, warned):  # finished just before we took the lock
            return net.eval(), "loaded"
        # A thread renews the lock, so a slow training step never makes it look abandoned.
        stop = threading.Event()

        def keep_alive() -> None:
            while not stop.wait(store.heartbeat_seconds):
                refresh_lock(store, lock, owner)

        keeper = threading.Thread(target=keep_alive, name="nas-lock-heartbeat", daemon=True)
        keeper.start()
        t0 = time.perf_counter()
        try:
            train_supernet(net, data, cfg, on_step=on_step)
            log.info("trained supernet %s in %.1f s", key[:16], time.perf_counter() - t0)
            meta = {"space": space.name, "data": data.name, **asdict(cfg)}
            save_checkpoint(store, key, net, directory, space.name, meta)
        finally:
            stop.set()
            keeper.join()
    finally:
        release_lock(store, lock, owner)
    return net.eval(), "trained"


def save_checkpoint(
    store: Store, key: str, net: Supernet, directory: Path, name: str, meta: dict
) -> Path:
    """Write ``net``'s weights atomically and record them under ``key`` (replacing any)."""
    path = directory / f"{name}-{key[:16]}.safetensors"
    _save_atomic(net, path)
    records.put(store, key, path, meta)
    return path


def load_supernet(
    store: Store, space: Space, data: Dataset, cfg: TrainConfig
) -> tuple[Supernet, Path]:
    """The trained supernet of ``(space, data, cfg)`` from its checkpoint; never trains.

    Raises:
        StorageError: no checkpoint is recorded for this key, or its file is missing or no
            longer matches its recorded checksum.
    """
    return load_checkpoint(store, checkpoint_key(space, data, cfg), space, data.num_classes)


def load_checkpoint(
    store: Store, key: str, space: Space, num_classes: int
) -> tuple[Supernet, Path]:
    """The supernet recorded under ``key`` (a trained one, or a DARTS study's); see
    :func:`load_supernet` for what is raised."""
    from nas.errors import StorageError

    record = records.get(store, key)
    if record is None:
        raise StorageError(
            f"no supernet checkpoint for space {space.name!r} with these settings in "
            f"{store.url}; run 'nas search' with the same options first"
        )
    path = records.path_of(store, record)
    if not path.is_file():
        raise StorageError(f"supernet checkpoint {path} is missing; rerun 'nas search' to retrain")
    if records.file_sha256(path) != record.sha256:
        raise StorageError(
            f"supernet checkpoint {path} does not match its recorded checksum; rerun 'nas search'"
        )
    net = create_supernet(space, num_classes)
    _load(net, path)
    return net.eval(), path
