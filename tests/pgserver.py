"""A throwaway PostgreSQL server (Debian's ``postgresql`` package) for tests and benchmarks.

The server lives in a temporary folder, listens on a free loopback port only and trusts the
``nas`` user; PostgreSQL refuses to run as root, so as root (CI) it runs as ``postgres``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresMissing(RuntimeError):
    """The server cannot be started here; the message says why."""


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """``postgresql+psycopg2://nas@127.0.0.1:PORT`` of a fresh server, removed afterwards.

    ``durable=False`` (tests) turns fsync off and stops the server without a checkpoint;
    ``durable=True`` (benchmarks) keeps PostgreSQL's default durability, as users run it.

    Raises:
        PostgresMissing: PostgreSQL is not installed, or root has no ``postgres`` user.
    """
    bindir = _bindir()
    if bindir is None:
        raise PostgresMissing("PostgreSQL is not installed (scripts/test.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            shutil.chown(base, user="postgres")
        except LookupError as exc:
            shutil.rmtree(base, ignore_errors=True)
            raise PostgresMissing("running as root and there is no 'postgres' user") from exc
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    init = [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "nas"]
    subprocess.run(init if durable else [*init, "--no-sync"], check=True, capture_output=True)
    opts = f"-k {base} -c listen_addresses=127.0.0.1 -p {port} -c max_connections=200"
    if not durable:
        opts += " -c fsync=off"
    ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    # -l: the server must not inherit our pipes, or run() waits for it to exit
    start = [*ctl, "-o", opts, "-l", str(base / "log"), "-w", "start"]
    subprocess.run(start, check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://nas@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*ctl, "-m", "fast" if durable else "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """A new, empty database ``name`` on ``server`` (dropped first if it exists); its URL."""
    from sqlalchemy import create_engine, text

    eng = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return f"{server}/{name}"
