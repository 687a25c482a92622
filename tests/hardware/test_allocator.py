"""The CPU target keeps freed memory, so timed forwards do not page-fault their activations."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from nas.hardware import create_target

# Steady-state minor page faults of five forwards of a net with 6-25 MB activations (printed by
# a fresh interpreter; "retain" first calls what the cpu target calls).
_PROBE = """
import resource, sys, torch
if sys.argv[1] == "retain":
    from nas.hardware.allocator import retain_freed_memory
    assert retain_freed_memory() == "glibc-retain"
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.Conv2d(32, 64, 1)).eval()
x = torch.randn(1, 3, 224, 224)
with torch.inference_mode():
    for _ in range(3):
        net(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        net(x)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


@glibc
def test_retained_memory_removes_page_faults_from_timed_runs() -> None:
    default, retained = _faults("default"), _faults("retain")
    # glibc's default mmap's each activation afresh: about 6,000 4-KiB pages per forward here
    assert default > 5 * 1000, default
    assert retained < 100, retained


@glibc
def test_cpu_target_names_its_allocator_mode() -> None:
    fp = create_target("cpu", threads=1).fingerprint()
    assert fp["allocator"] == "glibc-retain"
