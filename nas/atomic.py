"""Write files so that a crash never leaves a half-written file a later run would trust.

Every file nas writes (supernet checkpoints, lookup tables, exports) goes through
:func:`atomic_path`: the content is written to a temporary name in the same folder, flushed to
disk (``fsync``), then renamed over the final name. ``os.replace`` is atomic on POSIX and
Windows within one file system, so readers see either the old file or the complete new one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _fsync_dir(folder: Path) -> None:
    # The rename itself lives in the directory entry; without this a power cut may undo it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write to; on success it is fsynced and renamed to ``path``.

    Creates the parent folder. On an exception the temporary file is removed and ``path`` is
    left as it was. Usage::

        with atomic_path(out) as tmp:
            save_file(state, str(tmp))
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, unique per writer: two processes writing the same file never share a temp name.
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Atomically replace ``path`` with ``text``."""
    write_bytes(path, text.encode(encoding))
