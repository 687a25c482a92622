"""Checks on data from outside, made before it is decoded, trained on or written anywhere.

Every size is capped (:mod:`nas.limits`): an array header, an image header or a label can say
anything, and a reader must refuse it with one line instead of trying to allocate it. Pixels
must be finite numbers: one NaN trains a network to chance level without a word.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import numpy as np

from nas.errors import DataError
from nas.limits import (
    MAX_CLASSES,
    MAX_DATA_BYTES,
    MAX_DATA_FILE_BYTES,
    MAX_IMAGE_SIDE,
    MAX_IMAGES,
    MAX_NPZ_UNPACKED_BYTES,
    LimitError,
    shorten,
)


def regular_file(path: Path) -> Path:
    """``path`` if it is a regular file no larger than ``MAX_DATA_FILE_BYTES``.

    A FIFO, socket or device named like an image would block a reader for ever (or never end).

    Raises:
        DataError: not a regular file, or too large.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file (a pipe, device or folder); remove it")
    if st.st_size > MAX_DATA_FILE_BYTES:
        raise DataError(
            f"{path}: {st.st_size:,} bytes, above the cap of {MAX_DATA_FILE_BYTES:,} "
            "(nas.limits.MAX_DATA_FILE_BYTES)"
        )
    return path


def check_npz(npz: zipfile.ZipFile, source: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Check an open ``.npz`` before any array is read; the shapes of ``x`` and ``y``.

    Reads the zip directory (each member's unpacked ``file_size``) and the two ``.npy``
    headers only (a few hundred bytes decompressed), so a zip bomb is refused without being
    unpacked: the members together and each array as its header declares it must fit
    ``MAX_NPZ_UNPACKED_BYTES``; ``x`` must pass :func:`check_image_array_header`.

    Raises:
        LimitError: unpacked beyond the cap.
        DataError: arrays missing, headers unreadable, object (pickled) arrays.
    """
    names = npz.namelist()
    if "x.npy" not in names or "y.npy" not in names:
        found = shorten(sorted(n.removesuffix(".npy") for n in names)[:10])
        raise DataError(f"{source}: expected arrays 'x' and 'y', found {found}")
    _check_unpacked(sum(i.file_size for i in npz.infolist()), source)
    x_shape, x_dtype = npz_member_shape(npz, "x", source)
    y_shape, y_dtype = npz_member_shape(npz, "y", source)
    for shape, dtype in ((x_shape, x_dtype), (y_shape, y_dtype)):
        _check_unpacked(int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize, source)
    check_image_array_header(x_shape, x_dtype, source)
    check_image_count(int(np.prod(y_shape, dtype=np.float64)), source)
    return x_shape, y_shape


def _check_unpacked(n_bytes: int, source: str) -> None:
    if n_bytes > MAX_NPZ_UNPACKED_BYTES:
        raise LimitError(
            f"{source}: its arrays unpack to {n_bytes:,} bytes, above the cap of "
            f"{MAX_NPZ_UNPACKED_BYTES:,} (nas.limits.MAX_NPZ_UNPACKED_BYTES)"
        )


def npz_member_shape(npz: zipfile.ZipFile, name: str, source: str) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of array ``name`` of an open ``.npz``, read from its header only.

    Raises:
        DataError: no readable header, or an array of Python objects (a pickle).
    """
    try:
        with npz.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{source}: array {name!r} has no readable header ({exc})") from None
    if np.dtype(dtype).hasobject:
        raise DataError(
            f"{source}: array {name!r} holds Python objects (a pickle), which are refused; "
            "save plain numbers"
        )
    return tuple(int(s) for s in shape), str(dtype)


def check_image_array_header(shape: tuple[int, ...], dtype: str, source: str) -> None:
    """Refuse an image array whose header is beyond the caps or not numeric, before reading it."""
    if not (
        np.issubdtype(np.dtype(dtype), np.integer) or np.issubdtype(np.dtype(dtype), np.floating)
    ):
        raise DataError(
            f"{source}: images must be numbers (integers or floats), got dtype {dtype}"
        )
    if len(shape) in (3, 4):
        check_image_count(shape[0], source)
        sides = shape[1:3] if len(shape) == 3 or shape[-1] in (1, 3) else shape[2:4]
        check_image_side(int(sides[0]), int(sides[1]), source)
    n_values = int(np.prod(shape, dtype=np.float64)) if shape else 1
    check_decoded_bytes(n_values, source)


def check_image_count(n: int, source: str) -> None:
    if n > MAX_IMAGES:
        raise DataError(
            f"{source}: {n:,} images, above the cap of {MAX_IMAGES:,} (nas.limits.MAX_IMAGES)"
        )


def check_image_side(width: int, height: int, source: str) -> None:
    if max(width, height) > MAX_IMAGE_SIDE:
        raise DataError(
            f"{source}: an image of {width}x{height} pixels; the cap is {MAX_IMAGE_SIDE} a side "
            "(nas.limits.MAX_IMAGE_SIDE)"
        )


def check_decoded_bytes(n_values: int, source: str) -> None:
    """The float32 array of ``n_values`` values must fit ``MAX_DATA_BYTES``."""
    if 4 * n_values > MAX_DATA_BYTES:
        raise DataError(
            f"{source}: {4 * n_values / 2**30:.1f} GiB as float32 pixels, above the cap of "
            f"{MAX_DATA_BYTES / 2**30:.0f} GiB (nas.limits.MAX_DATA_BYTES)"
        )


def check_pixels(x: np.ndarray, source: str) -> None:
    """Every pixel a finite number (NaN or infinity trains to chance level and 'completes')."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise DataError(
            f"{source}: {bad:,} pixel value(s) are NaN or infinite (the first at index {index}); "
            "images must hold finite numbers"
        )


def check_label_range(y: np.ndarray, source: str) -> None:
    """The largest label below ``MAX_CLASSES`` (a label of 10**9 means 10**9 outputs)."""
    if y.size and int(y.max()) >= MAX_CLASSES:
        raise DataError(
            f"{source}: label {shorten(int(y.max()))} means {int(y.max()) + 1:,} classes, above "
            f"the cap of {MAX_CLASSES:,} (nas.limits.MAX_CLASSES); labels must be 0..K-1"
        )
