"""Data sets: the built-in ones (Fashion-MNIST from Debian's package, scikit-learn's digits)
and readers for the user's data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nas.data.dataset import Dataset, subset
from nas.data.idx import is_idx_folder, read_idx_folder
from nas.data.prepare import fit_to_space
from nas.data.readers import read_cifar, read_digits, read_image_folder, read_npz
from nas.errors import DataError

DIGITS = "digits"
FASHION = "fashion-mnist"
BUILTIN = (FASHION, DIGITS)
# Debian's dataset-fashion-mnist installs the four IDX files here; NAS_FASHION_MNIST moves it.
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Zalando's label names, in label order (github.com/zalandoresearch/fashion-mnist, README)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_HINT = (
    "install it with 'apt-get install dataset-fashion-mnist' (Debian; scripts/setup.sh does "
    "when run as root), or give the folder of its four IDX files as --data PATH"
)


def fashion_dir() -> Path:
    return Path(os.environ.get("NAS_FASHION_MNIST", str(FASHION_DIR)))


def fashion_available() -> bool:
    return is_idx_folder(fashion_dir())


def builtin_missing(name: str) -> str | None:
    """Why the built-in data set ``name`` (one of :data:`BUILTIN`) cannot be read on this
    machine, or ``None`` when it can."""
    if name == FASHION and not fashion_available():
        return f"Fashion-MNIST is not installed in {fashion_dir()}"
    return None


def default_data() -> str:
    """The data set a search uses when ``--data`` is not given: Fashion-MNIST (70,000 real
    28x28 images) where it is installed, else the digits that ship inside scikit-learn.
    ``NAS_DEFAULT_DATA`` names another (the test suite sets it to ``digits``, for speed)."""
    chosen = os.environ.get("NAS_DEFAULT_DATA")
    if chosen:
        return chosen
    return FASHION if fashion_available() else DIGITS


def load_data(
    spec: str | None = None, *, train_images: int | None = None, val_images: int | None = None
) -> Dataset:
    """Read the data set named by ``--data``: ``fashion-mnist``, ``digits``, a ``.npz`` file, a
    folder of MNIST-format IDX files, a CIFAR-10 python folder or an image folder; ``None``
    is :func:`default_data`. ``train_images`` / ``val_images`` keep a fixed stratified subset
    of those splits (the test split is never cut).

    Raises:
        DataError: the path does not exist or holds no data set in a known format.
    """
    ds = _read(spec or default_data())
    present = sorted({int(v) for v in ds.y_train})
    if len(present) < 2:
        raise DataError(
            f"{ds.name}: every training label is {present}; a classifier needs 2+ classes"
        )
    if max(ds.y_val.max(initial=0), ds.y_test.max(initial=0)) >= ds.num_classes:
        raise DataError(f"{ds.name}: validation or test labels outside the training classes")
    return subset(ds, train=train_images, val=val_images)


def load_for_space(
    spec: str | None,
    space: Any,
    *,
    train_images: int | None = None,
    val_images: int | None = None,
) -> Dataset:
    """:func:`load_data`, then fitted to ``space`` (channels, scoring resolution, normalised)."""
    ds = load_data(spec, train_images=train_images, val_images=val_images)
    return fit_to_space(ds, channels=space.input_channels, resolution=space.train_resolution)


def _read(spec: str) -> Dataset:
    if spec == DIGITS:
        return read_digits()
    if spec == FASHION:
        missing = builtin_missing(FASHION)
        if missing:
            raise DataError(f"{missing}: {FASHION_HINT}")
        return read_idx_folder(fashion_dir(), FASHION, FASHION_CLASSES)
    path = Path(spec)
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"{spec}: a data file must be .npz with arrays x and y")
        return read_npz(path)
    if path.is_dir():
        if is_idx_folder(path):
            return read_idx_folder(path)
        return read_cifar(path) if (path / "test_batch").exists() else read_image_folder(path)
    what = "is not a file or a folder" if path.exists() else "not found"  # /dev/zero, a FIFO
    raise DataError(
        f"data set {spec!r} {what}; give fashion-mnist, digits, a .npz file, a "
        "folder of IDX files, a CIFAR-10 python folder or an image folder"
    )


__all__ = [
    "BUILTIN",
    "DIGITS",
    "FASHION",
    "Dataset",
    "builtin_missing",
    "default_data",
    "fashion_available",
    "fit_to_space",
    "load_data",
    "load_for_space",
    "subset",
]
