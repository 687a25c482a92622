"""Every data format --data accepts, and the errors for data that does not fit."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nas.data import fit_to_space, load_data
from nas.errors import DataError


def test_digits_have_fixed_splits() -> None:
    a, b = load_data("digits"), load_data("digits")
    assert a.name == "digits" and a.num_classes == 10
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    np.testing.assert_array_equal(a.y_val, b.y_val)  # fixed split, whatever the run's seed
    assert a.fingerprint() == b.fingerprint()
    assert set(np.unique(a.y_val)) == set(range(10))  # stratified


def test_npz_in_every_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    for name, x in {
        "nhw": rng.random((40, 12, 12)),
        "nchw": rng.random((40, 3, 12, 12)),
        "nhwc": (rng.random((40, 12, 12, 3)) * 255).astype(np.uint8),
    }.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, x=x, y=y)
        ds = load_data(str(path))
        assert ds.num_classes == 4 and ds.x_train.ndim == 4
        assert ds.x_train.max() <= 1.0  # 0..255 images are scaled
        fitted = fit_to_space(ds, channels=3, resolution=16)
        assert fitted.shape == (3, 16, 16)
        assert abs(float(fitted.x_train.mean())) < 1e-3  # normalised on the training split


def _cifar_batch(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    with path.open("wb") as f:
        pickle.dump({b"data": data, b"labels": list(rng.integers(0, 10, n))}, f)


def test_cifar_python_folder(tmp_path: Path) -> None:
    for i in range(1, 3):
        _cifar_batch(tmp_path / f"data_batch_{i}", 50, i)
    _cifar_batch(tmp_path / "test_batch", 20, 9)
    ds = load_data(str(tmp_path))
    assert ds.shape == (3, 32, 32)
    assert len(ds.y_train) == 90 and len(ds.y_val) == 10 and len(ds.y_test) == 20


def test_cifar_reader_refuses_arbitrary_pickles(tmp_path: Path) -> None:
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with (tmp_path / "data_batch_1").open("wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f)
    _cifar_batch(tmp_path / "test_batch", 20, 9)
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        load_data(str(tmp_path))
    assert not (tmp_path / "pwned").exists()


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(8):
            arr = (rng.random((10, 10, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    ds = load_data(str(tmp_path))
    assert ds.num_classes == 2 and ds.shape == (3, 10, 10)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 16


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((0, 8, 8)), np.zeros(0, dtype=int), "empty"),
        (np.zeros((20, 8)), np.zeros(20, dtype=int), "images must have shape"),
        (np.zeros((20, 5, 8, 8)), np.zeros(20, dtype=int), "1 or 3 channels"),
        (np.zeros((20, 2, 2)), np.zeros(20, dtype=int), "at least 4x4"),
        (np.zeros((20, 8, 8)), np.arange(20) - 5, "labels must be 0..K-1"),
        (np.zeros((20, 8, 8)), np.zeros(19, dtype=int), "expected 20 labels"),
        (np.zeros((20, 8, 8)), np.full(20, 0.5), "whole numbers"),
        (np.zeros((5, 8, 8)), np.zeros(5, dtype=int), "at least 10"),
    ],
)
def test_bad_npz(tmp_path: Path, x, y, message: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y)
    with pytest.raises(DataError, match=message):
        load_data(str(path))


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_data(str(tmp_path / "absent"))
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="must be .npz"):
        load_data(str(tmp_path / "x.csv"))
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_data(str(tmp_path / "junk.npz"))
    np.savez(tmp_path / "wrong.npz", images=np.zeros((20, 8, 8)))
    with pytest.raises(DataError, match="expected arrays 'x' and 'y'"):
        load_data(str(tmp_path / "wrong.npz"))
    empty = tmp_path / "emptydir"
    empty.mkdir()
    with pytest.raises(DataError, match="one sub-folder of images per class"):
        load_data(str(empty))


def test_channel_mismatch_with_the_space() -> None:
    ds = fit_to_space(load_data(), channels=3, resolution=8)
    with pytest.raises(DataError, match="images have 3 channels but the space expects 1"):
        fit_to_space(ds, channels=1, resolution=8)
