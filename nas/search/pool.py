"""Local worker processes for ``nas search --workers K``.

Each worker is a separate ``nas worker`` process (its own interpreter, torch threads and
Optuna heartbeat), exactly what one would start by hand or on another machine. They share the
study through the database only; this process just watches the study's progress.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import optuna

from nas.storage import studies as st

if TYPE_CHECKING:
    from nas.reporting import Reporter

log = logging.getLogger(__name__)


def worker_command(storage: str, study_name: str) -> list[str]:
    """The command line of one local worker (this interpreter, this nas)."""
    cmd = [sys.executable, "-m", "nas"]
    if logging.getLogger().isEnabledFor(logging.INFO):
        cmd.append("-v")
    return [*cmd, "worker", "--study", study_name, "--storage", storage, "--quiet"]


def _stop(procs: list[subprocess.Popen[bytes]], grace: float = 30.0) -> None:
    """Interrupt workers still running (Ctrl-C in a terminal reaches them already)."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.05)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker %d did not stop; killing it", p.pid)
            p.kill()
            p.wait()


def run_local_workers(
    storage: str,
    study_name: str,
    n: int,
    study: optuna.Study,
    budget: int,
    reporter: Reporter,
    poll_seconds: float = 1.0,
) -> list[int]:
    """Start ``n`` workers on ``study_name`` and wait for them; their exit statuses."""
    cmd = worker_command(storage, study_name)
    procs = [subprocess.Popen(cmd) for _ in range(n)]
    log.info("started %d workers: %s", n, " ".join(cmd))
    try:
        while any(p.poll() is None for p in procs):
            reporter.progress(st.count_complete(study), budget)
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        _stop(procs)
        raise
    reporter.progress(st.count_complete(study), budget)
    return [int(p.returncode) for p in procs]
