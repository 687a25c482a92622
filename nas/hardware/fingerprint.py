"""What machine and software a measurement ran on."""

from __future__ import annotations

import os
import platform
from functools import cache


@cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_fingerprint() -> dict[str, str | int]:
    """CPU model, logical cores, OS and Python; targets add their runtime and threads."""
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "machine": platform.machine(),
        "os": platform.system(),
        "python": platform.python_version(),
    }
