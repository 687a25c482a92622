"""Data sets: the embedded default (scikit-learn's digits) and readers for the user's data."""

from __future__ import annotations

from pathlib import Path

from nas.data.dataset import Dataset
from nas.data.prepare import fit_to_space
from nas.data.readers import read_cifar, read_digits, read_image_folder, read_npz
from nas.errors import DataError

DEFAULT = "digits"


def load_data(spec: str | None = None) -> Dataset:
    """Read the data set named by ``--data``: ``digits`` (default), a ``.npz`` file, a CIFAR-10
    python folder or an image folder.

    Raises:
        DataError: the path does not exist or holds no data set in a known format.
    """
    if spec in (None, "", DEFAULT):
        return read_digits()
    path = Path(spec)
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"{spec}: a data file must be .npz with arrays x and y")
        ds = read_npz(path)
    elif path.is_dir():
        ds = read_cifar(path) if (path / "test_batch").exists() else read_image_folder(path)
    else:
        raise DataError(
            f"data set {spec!r} not found; give 'digits', a .npz file, a CIFAR-10 python "
            "folder or an image folder"
        )
    present = sorted({int(v) for v in ds.y_train})
    if len(present) < 2:
        raise DataError(
            f"{spec}: every training label is {present}; a classifier needs 2+ classes"
        )
    if max(ds.y_val.max(initial=0), ds.y_test.max(initial=0)) >= ds.num_classes:
        raise DataError(f"{spec}: validation or test labels outside the training classes")
    return ds


__all__ = ["DEFAULT", "Dataset", "fit_to_space", "load_data"]
