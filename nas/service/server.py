"""Run ``nas serve``: uvicorn on a bound socket, plus ``--slots`` queue-worker processes.

Each slot is a ``nas worker --queue`` process (the same program one starts on other machines),
started with ``PR_SET_PDEATHSIG`` so that a server killed with ``kill -9`` takes its workers
with it: their searches keep ``running`` rows whose heartbeat stops, and the next server (or a
worker elsewhere) takes them over after the grace period and resumes their studies. A worker
that exits unexpectedly is restarted; a clean shutdown (Ctrl-C, SIGTERM) hands running searches
back to the queue.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time

from nas.errors import OptionError
from nas.listen import LOOPBACK, MIN_TOKEN_CHARS, bind
from nas.service.app import create_app
from nas.service.config import ServiceConfig
from nas.serving import uvicorn_config

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 500  # requests answered at a time (event streams included)
MAX_CONNECTIONS = 4096  # uvicorn's backstop: over it, every request is answered 503


def check_token(token: str | None, *, no_auth: bool, host: str) -> None:
    """Refuse to start without a token, except ``--no-auth`` on this machine only.

    Raises:
        OptionError: with what to do.
    """
    if no_auth:
        if host not in LOOPBACK:
            raise OptionError(f"--no-auth is only allowed on 127.0.0.1, not on {host}")
        return
    if not token:
        raise OptionError(
            "nas serve needs a token: set NAS_TOKEN (e.g. NAS_TOKEN=$(openssl rand -hex 24)), "
            "or pass --no-auth to serve 127.0.0.1 without one"
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise OptionError(f"NAS_TOKEN must have at least {MIN_TOKEN_CHARS} characters")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: a killed server's workers stop at their next heartbeat check
        pass


class Slots:
    """``n`` queue-worker processes, restarted when they exit, stopped on :meth:`stop`."""

    def __init__(self, storage: str, n: int) -> None:
        self.cmd = [sys.executable, "-m", "nas"]
        if logging.getLogger().isEnabledFor(logging.INFO):
            self.cmd.append("-v")
        self.cmd += ["worker", "--queue", "--storage", storage, "--quiet"]
        self.n = n
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._keep, daemon=True)

    def _start_one(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.cmd, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def start(self) -> None:
        self.procs = [self._start_one() for _ in range(self.n)]
        self.thread.start()

    def _keep(self) -> None:
        while not self.stopping.wait(1.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None and not self.stopping.is_set():
                    log.warning(
                        "queue worker %d exited with %s; restarting it", p.pid, p.returncode
                    )
                    self.procs[i] = self._start_one()

    def stop(self, grace: float = 30.0) -> None:
        self.stopping.set()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def serve(config: ServiceConfig, *, host: str, port: int, announce=print) -> None:  # type: ignore[no-untyped-def]
    """Bind, start the slots, serve until interrupted."""
    import uvicorn

    sock = bind(host, port)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)  # opens and migrates the storage before any worker starts
    slots = Slots(config.storage, config.slots)
    server = uvicorn.Server(
        uvicorn_config(
            app,
            max_in_flight=MAX_IN_FLIGHT,
            max_connections=MAX_CONNECTIONS,
            exempt=("/healthz",),
        )
    )
    bound_host, bound_port = sock.getsockname()[:2]
    slots.start()
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    announce(
        f"nas serve listening on http://{shown}:{bound_port} ({config.slots} slots; "
        f"dashboard at http://{shown}:{bound_port}/dashboard/)"
    )
    try:
        server.run(sockets=[sock])
    finally:
        slots.stop()
        sock.close()
