"""Keep the C allocator from handing memory back to the OS between timed runs.

glibc's ``malloc`` serves large blocks (a 1x96x112x112 activation is 4.8 MB) with ``mmap`` and
returns them with ``munmap`` or a heap trim as soon as torch frees them. Every forward pass
then page-faults its activations in again: on this project's 2-core VM, 5,000 minor faults and
12 ms of kernel time in a 40 ms forward of a ``mobile`` network, and the share changes with the
allocator's history (glibc moves its thresholds as it goes), so the same network measured at
different moments differed by up to 50 %. A serving process in steady state reuses its
memory, which is why Intel's PyTorch CPU tuning guide recommends a caching allocator
(jemalloc or tcmalloc) for inference. We get the same effect without a preload by raising
glibc's mmap and trim thresholds with ``mallopt`` (process-wide, from the next allocation on;
freed memory stays in the process for reuse, so the peak is kept, not grown).

Only glibc has ``mallopt``; elsewhere this does nothing and says so (the targets record the
result in their fingerprints, so measurements with and without it never share a cache entry).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
from functools import cache

log = logging.getLogger(__name__)

# mallopt parameters from <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 256 << 20  # blocks up to 256 MiB come from the heap and are reused
_TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of free heap instead of trimming it


@cache
def retain_freed_memory() -> str:
    """Set glibc's thresholds once per process; returns the allocator mode for fingerprints:
    ``"glibc-retain"`` when set, ``"default"`` where it cannot be (not glibc)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "default"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and libc.mallopt(
            _M_TRIM_THRESHOLD, _TRIM_THRESHOLD
        )
    except (OSError, AttributeError):
        ok = 0
    if not ok:
        log.warning("could not set glibc malloc thresholds; timings may include page faults")
        return "default"
    return "glibc-retain"
