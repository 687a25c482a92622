"""MNIST-format IDX files (LeCun's format, also Fashion-MNIST's), gzipped or raw.

A folder that holds ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` is a data set: the official
test split stays the test split, and the validation split is carved from the training images
with a fixed seed (stratified), so every run and every machine ranks on the same images.

The reader is written here rather than taken from a library: torchvision does not import beside
this project's torch build, and the format is a 4-byte magic number, the dimensions and the raw
bytes. Every size comes from the file, so each is checked against the file's real length and
against a cap before anything is allocated.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nas.data.dataset import SPLIT_SEED, Dataset, check_labels
from nas.errors import DataError

# IDX type codes -> numpy dtypes (big-endian, as the format stores them)
_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_IDX_BYTES = 1 << 30  # 1 GiB of decoded data: far above MNIST's 47 MB, far below memory
MAX_IDX_ITEMS = 10_000_000  # images (or labels) in one file
MAX_IMAGE_SIDE = 1024
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VAL_FRACTION = 1 / 6  # 10,000 of MNIST's 60,000 training images, the size of its test split


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``folder`` (the raw file wins when both are there)."""
    for name in (stem, stem + ".gz"):
        path = folder / name
        if path.is_file():
            return path
    return None


def is_idx_folder(folder: Path) -> bool:
    return find_idx_file(folder, FILES["train_images"]) is not None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read(MAX_IDX_BYTES + 1)  # decompression bomb: never more than the cap
        else:
            if path.stat().st_size > MAX_IDX_BYTES:
                raise DataError(f"{path}: larger than the {MAX_IDX_BYTES >> 20} MiB cap")
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable IDX file ({exc})") from None
    if len(raw) > MAX_IDX_BYTES:
        raise DataError(f"{path}: decodes to more than the {MAX_IDX_BYTES >> 20} MiB cap")
    return raw


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds, with the shape its header declares.

    Raises:
        DataError: wrong magic number, unknown type code, a size over the caps, or a file
            shorter or longer than its header says.
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (wrong magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02x}")
    if not 1 <= ndim <= 4:
        raise DataError(f"{path}: IDX files here have 1 to 4 dimensions, header says {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if dims[0] > MAX_IDX_ITEMS or any(d > MAX_IMAGE_SIDE for d in dims[1:]):
        raise DataError(f"{path}: declared shape {dims} is over the caps")
    dtype = _DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise DataError(f"{path}: {what} ({got} data bytes, header declares {expected})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _images(path: Path) -> tuple[np.ndarray, float]:
    x = read_idx(path)
    if x.ndim != 3 or min(x.shape[1:]) < 4:
        raise DataError(f"{path}: expected images of shape (N, H, W), got {x.shape}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: images hold NaN or infinite values")
    top = 255.0 if x.max(initial=0) > 1.5 else 1.0
    return (x / top)[:, None], top  # (N, 1, H, W) in [0, 1], and what it was divided by


def _labels(path: Path, n: int) -> np.ndarray:
    y = read_idx(path)
    if y.ndim != 1:
        raise DataError(f"{path}: labels must be one-dimensional, got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{path}: {len(y)} labels for {n} images")
    return check_labels(y, n, str(path))


def read_idx_folder(
    folder: Path, name: str | None = None, classes: tuple[str, ...] = ()
) -> Dataset:
    """The four IDX files of ``folder`` as a :class:`Dataset` (see the module docstring).

    Raises:
        DataError: a file is missing or malformed, or labels and images do not match.
    """
    from sklearn.model_selection import train_test_split

    paths: dict[str, Path] = {}
    for key, stem in FILES.items():
        found = find_idx_file(folder, stem)
        if found is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz) of an IDX data set")
        paths[key] = found
    x, scale = _images(paths["train_images"])
    y = _labels(paths["train_labels"], len(x))
    xt, _ = _images(paths["test_images"])
    yt = _labels(paths["test_labels"], len(xt))
    if x.shape[1:] != xt.shape[1:]:
        raise DataError(f"{folder}: training images are {x.shape[2:]}, test {xt.shape[2:]}")
    num_classes = int(max(y.max(), yt.max())) + 1
    if num_classes > 1000:
        raise DataError(f"{folder}: labels go up to {num_classes - 1}; at most 1000 classes")
    counts = np.bincount(y, minlength=num_classes)
    stratify = y if counts.min() >= 2 else None
    train_idx, val_idx = train_test_split(
        np.arange(len(y)), test_size=VAL_FRACTION, random_state=SPLIT_SEED, stratify=stratify
    )
    train_idx.sort()
    val_idx.sort()
    return Dataset(
        name or folder.name,
        np.ascontiguousarray(x[train_idx]),
        y[train_idx],
        np.ascontiguousarray(x[val_idx]),
        y[val_idx],
        np.ascontiguousarray(xt),
        yt,
        num_classes,
        classes=classes if len(classes) == num_classes else (),
        pixel_scale=scale,
    )
