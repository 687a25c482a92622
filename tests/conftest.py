"""Shared fixtures: the tiny test space, a small data set, a temporary storage."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
# The default data set is Fashion-MNIST where it is installed; most tests only need a small,
# fast data set and take the embedded digits (subprocesses inherit this). The tests of the
# default itself (tests/data/test_idx.py, tests/test_fashion_e2e.py) remove it.
os.environ.setdefault("NAS_DEFAULT_DATA", "digits")


@pytest.fixture(autouse=True, scope="session")
def _few_threads() -> None:
    # CI has two cores shared by everything; keep torch from oversubscribing them.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture
def tiny_space():
    from nas.spaces import load_space

    return load_space(str(TINY))


@pytest.fixture
def tiny_data(tiny_space):
    from nas.data import fit_to_space, load_data

    return fit_to_space(load_data(), channels=3, resolution=tiny_space.train_resolution)


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def nas_cmd(*args: str) -> list[str]:
    """Argument vector that runs the nas CLI in a subprocess with this interpreter."""
    return [sys.executable, "-m", "nas", *args]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="session")
def searched_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A storage made by small real searches of the tiny space: study ``nsga`` (6 trials) and
    study ``capped`` (4 random trials under a latency limit). Shared by the dashboard's
    integration tests; treat it as read-only."""
    from nas.search.driver import run_search
    from nas.search.options import SearchOptions

    url = f"sqlite:///{tmp_path_factory.mktemp('searched') / 'studies.db'}"
    fast = dict(space=str(TINY), supernet_epochs=1, calib_batches=1, batch_size=256, storage=url)
    run_search(SearchOptions(**fast, study="nsga", budget=6, seed=1))  # type: ignore[arg-type]
    run_search(
        SearchOptions(**fast, study="capped", budget=4, strategy="random", max_latency_ms=5.0)  # type: ignore[arg-type]
    )
    return url


# ---- a throwaway PostgreSQL server (tests/pgserver.py) -------------------------------------
@pytest.fixture(scope="session")
def postgres_server():
    """``postgresql://nas@127.0.0.1:PORT``: a server in a temporary folder, loopback only."""
    from tests.pgserver import PostgresMissing, throwaway_postgres

    try:
        server = throwaway_postgres()
        url = server.__enter__()
    except PostgresMissing as exc:
        if os.environ.get("CI") or os.geteuid() == 0:
            # CI (root) installs PostgreSQL in scripts/test.sh: its tests must run there
            pytest.fail(f"{exc}; the storage tests run on PostgreSQL too")
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: str, request) -> str:
    """A fresh, empty database on the session's server."""
    import re

    from tests.pgserver import create_database

    return create_database(
        postgres_server, "t_" + re.sub(r"\W", "_", request.node.name)[:50].lower()
    )


def zip_bomb_npz(declared: int = 3_000_000_000) -> bytes:
    """A valid, tiny ``.npz`` (x: 40 images of 8x8x3, y: two classes) whose zip directory says
    that ``x.npy`` unpacks to ``declared`` bytes: what a zip bomb looks like before it is
    unpacked, without the seconds and the memory of making a real one."""
    import io
    import struct
    import zipfile

    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, array in (("x", np.zeros((40, 8, 8, 3), np.uint8)), ("y", np.arange(40) % 2)):
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            z.writestr(f"{name}.npy", member.getvalue())
    raw = bytearray(buf.getvalue())
    entry = raw.index(b"PK\x01\x02")  # the central directory's first entry: x.npy
    assert raw[entry + 46 : entry + 51] == b"x.npy"
    raw[entry + 24 : entry + 28] = struct.pack("<I", declared)  # its uncompressed size
    return bytes(raw)
