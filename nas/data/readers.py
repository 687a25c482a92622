"""Readers for the data sets ``--data`` accepts. Nothing here downloads anything.

- default: scikit-learn's digits (1,797 real 8x8 images shipped inside scikit-learn);
- a ``.npz`` file with arrays ``x`` (images) and ``y`` (labels);
- a CIFAR-10 python-format folder (``data_batch_1..5`` and ``test_batch``);
- an image folder with one sub-folder per class.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from nas.data.checks import (
    check_decoded_bytes,
    check_image_count,
    check_image_side,
    check_label_range,
    check_npz,
    check_pixels,
    regular_file,
)
from nas.data.dataset import Dataset, check_labels, split, to_nchw
from nas.errors import DataError
from nas.limits import MAX_IMAGE_SIDE, shorten

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".webp"}


def read_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # (N, 8, 8) in [0, 1]
    names = tuple(str(c) for c in bunch.target_names)
    y = bunch.target.astype(np.int64)
    return split("digits", to_nchw(x, "digits"), y, classes=names, pixel_scale=16.0)


def read_npz(path: Path) -> Dataset:
    source = str(path)
    regular_file(path)
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (an .npz is a zip of arrays x and y)")
    try:
        # allow_pickle=False: an .npz may come from anywhere; object arrays are refused.
        with np.load(path, allow_pickle=False) as f:
            # the zip directory and the headers say how large the arrays are: check first
            check_npz(f.zip, source)
            x, y = f["x"], f["y"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({shorten(str(exc))})") from None
    if len(x) == 0:
        raise DataError(f"{path}: the data set is empty")
    x = to_nchw(x, source)
    check_pixels(x, source)
    scale = 255.0 if x.max() > 1.5 else 1.0
    return split(
        path.stem,
        (x / scale).astype(np.float32),
        check_labels(y, len(x), str(path)),
        pixel_scale=scale,
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's python format is pickled; allow only what its batches contain."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = _NumpyOnlyUnpickler(
            io.BytesIO(regular_file(path).read_bytes()), encoding="bytes"
        ).load()
        data = np.asarray(raw[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(raw[b"labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    return data, labels


def read_cifar(folder: Path) -> Dataset:
    train_files = sorted(folder.glob("data_batch_*"))
    test_file = folder / "test_batch"
    if not train_files or not test_file.is_file():
        raise DataError(f"{folder}: expected CIFAR-10 files data_batch_1..5 and test_batch")
    parts = [_cifar_batch(p) for p in train_files]
    x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p[1] for p in parts])
    xt, yt = _cifar_batch(test_file)
    check_label_range(np.concatenate([y, yt]), str(folder))
    if min(y.min(initial=0), yt.min(initial=0)) < 0:
        raise DataError(f"{folder}: labels must be 0..K-1, found {min(y.min(), yt.min())}")
    # fixed validation split: the last 10% of the training batches
    n_val = len(y) // 10
    return Dataset(
        folder.name,
        x[:-n_val],
        y[:-n_val],
        x[-n_val:],
        y[-n_val:],
        xt.astype(np.float32) / 255.0,
        yt,
        int(max(y.max(), yt.max())) + 1,
        classes=_cifar_names(folder),
        pixel_scale=255.0,
    )


def _cifar_names(folder: Path) -> tuple[str, ...]:
    """CIFAR-10's label names from ``batches.meta`` (absent or unreadable: none)."""
    meta = folder / "batches.meta"
    if not meta.is_file() or meta.stat().st_size > 1 << 20:
        return ()
    try:
        raw = _NumpyOnlyUnpickler(io.BytesIO(meta.read_bytes()), encoding="bytes").load()
        return tuple(n.decode("utf-8", "replace") for n in raw[b"label_names"])
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, AttributeError, EOFError):
        return ()


def read_image_folder(folder: Path) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{folder}: expected one sub-folder of images per class, found none")
    images: list[np.ndarray] = []
    labels: list[int] = []
    size: tuple[int, int] | None = None
    for label, cls in enumerate(classes):
        for f in sorted((folder / cls).iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            regular_file(f)  # a FIFO named .png would block the reader for ever
            check_image_count(len(images) + 1, str(folder))
            try:
                with Image.open(f) as raw:
                    check_image_side(*raw.size, str(f))  # from the header, before decoding
                    rgb = raw.convert("RGB")
                size = size or rgb.size
                if rgb.size != size:
                    rgb = rgb.resize(size)
                check_decoded_bytes((len(images) + 1) * 3 * size[0] * size[1], str(folder))
                images.append(np.asarray(rgb, dtype=np.float32) / 255.0)
            except Image.DecompressionBombError:  # PIL's own, lower cap on width * height
                raise DataError(
                    f"{f}: its header declares more pixels than the cap of {MAX_IMAGE_SIDE} a "
                    "side (nas.limits.MAX_IMAGE_SIDE)"
                ) from None
            except (OSError, UnidentifiedImageError) as exc:
                raise DataError(f"{f}: not a readable image ({shorten(str(exc))})") from None
            labels.append(label)
    if not images:
        raise DataError(f"{folder}: no images found in its class folders")
    x = to_nchw(np.stack(images), str(folder))
    y = np.asarray(labels, dtype=np.int64)
    return split(folder.name, x, y, classes=tuple(classes), pixel_scale=255.0)
