"""A real ``nas serve`` process on a free loopback port, for the service's tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from nas.client import Client
from tests.conftest import ROOT, nas_cmd, subprocess_env

TOKEN = "test-token-0123456789abcdef"
BENCH = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench")
TABLE = BENCH / "nb201_synthetic.csv"


class Server:
    """``nas serve --port 0`` with a data folder holding the nb201 table (as ``nb201.csv``)."""

    def __init__(self, tmp: Path, *, slots: int = 2, storage: str | None = None) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        if TABLE.exists() and not (self.data / "nb201.csv").exists():
            shutil.copy(TABLE, self.data / "nb201.csv")
        self.storage = storage or f"sqlite:///{tmp / 'studies.db'}"
        self.slots = slots
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def env(self) -> dict[str, str]:
        env = subprocess_env()
        env.update(NAS_TOKEN=TOKEN, NAS_HEARTBEAT_SECONDS="1", NAS_GRACE_SECONDS="3")
        return env

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            nas_cmd(
                "serve",
                "--port",
                "0",
                "--slots",
                str(self.slots),
                "--storage",
                self.storage,
                "--data-dir",
                str(self.data),
            ),
            stdout=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=self.tmp,
            start_new_session=True,  # kill -9 of the server alone, like a crash
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert m, f"server did not start: {line!r}"
        self.url = m.group(1)
        return self

    def client(self, token: str | None = TOKEN) -> Client:
        return Client(self.url, token, timeout=60)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_for(pred, timeout: float = 120.0, poll: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(poll)
