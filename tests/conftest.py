"""Shared fixtures: the tiny test space, a small data set, a temporary storage."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


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
    from nas.search import SearchOptions, run_search

    url = f"sqlite:///{tmp_path_factory.mktemp('searched') / 'studies.db'}"
    fast = dict(space=str(TINY), supernet_epochs=1, calib_batches=1, batch_size=256, storage=url)
    run_search(SearchOptions(**fast, study="nsga", budget=6, seed=1))  # type: ignore[arg-type]
    run_search(
        SearchOptions(**fast, study="capped", budget=4, strategy="random", max_latency_ms=5.0)  # type: ignore[arg-type]
    )
    return url


# ---- a throwaway PostgreSQL server (Debian's postgresql package) ----------------------------


def _pg_bindir() -> Path | None:
    import glob
    import shutil

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server():
    """``postgresql://nas@127.0.0.1:PORT``: a server in a temporary folder, loopback only.

    PostgreSQL refuses to run as root, so as root (CI) it runs as the ``postgres`` user.
    """
    import shutil
    import subprocess
    import tempfile

    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            shutil.chown(base, user="postgres")
        except LookupError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "nas",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-k {base} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off -c max_connections=200"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://nas@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str, request) -> str:
    """A fresh, empty database on the session's server."""
    import re

    from sqlalchemy import create_engine, text

    name = "t_" + re.sub(r"\W", "_", request.node.name)[:50].lower()
    eng = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return f"{postgres_server}/{name}"
