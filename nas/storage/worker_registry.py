"""Who a worker is, and whether a worker on this machine is certainly gone.

A worker's id names its machine, boot, PID namespace and process. Another worker on the *same*
machine, boot and PID namespace can tell for sure that the process has exited (the PID no
longer exists), so a lock or trial it left behind can be taken over at once instead of after
the heartbeat grace period. Anything else (another machine, another container, a PID that was
reused) counts as alive: only the heartbeat decides then, which is always safe.
``NAS_PID_CHECK=0`` turns the same-machine check off (then only heartbeats count).
"""

from __future__ import annotations

import functools
import os
import socket


@functools.cache
def _machine() -> str:
    boot = ""
    try:
        boot = open("/proc/sys/kernel/random/boot_id").read().strip()[:8]  # noqa: SIM115
        pidns = os.readlink("/proc/self/ns/pid").removeprefix("pid:")
    except OSError:
        return ""  # no way to be sure: never claim another process is dead
    return f"{socket.gethostname()}/{boot}/{pidns}"


def worker_id() -> str:
    """``host/boot/pidns:pid`` of this process (``host:pid`` where that cannot be known)."""
    return f"{_machine() or socket.gethostname()}:{os.getpid()}"


def certainly_dead(worker: str) -> bool:
    """True only when ``worker`` ran on this machine, boot and PID namespace and has exited."""
    if os.environ.get("NAS_PID_CHECK", "1") == "0":
        return False
    machine, _, pid = worker.rpartition(":")
    if not machine or machine != _machine() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but is not ours (PermissionError)
        return False
    return False
