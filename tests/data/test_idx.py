"""The MNIST-format IDX reader and the built-in fashion-mnist data set (issue 11)."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.data import FASHION, default_data, fashion_available, load_data
from nas.data.idx import FILES, read_idx
from nas.errors import DataError


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_set(folder: Path, *, gz: bool, n_train: int = 60, n_test: int = 20) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "train_images": rng.integers(0, 256, (n_train, 12, 12)),
        "train_labels": np.arange(n_train) % 3,
        "test_images": rng.integers(0, 256, (n_test, 12, 12)),
        "test_labels": np.arange(n_test) % 3,
    }
    for key, arr in parts.items():
        name = FILES[key] + (".gz" if gz else "")
        data = _idx(arr)
        (folder / name).write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_idx_folder_keeps_the_official_test_split(tmp_path: Path, gz: bool) -> None:
    _write_set(tmp_path / "set", gz=gz)
    ds = load_data(str(tmp_path / "set"))
    assert ds.num_classes == 3 and ds.shape == (1, 12, 12)
    assert len(ds.y_test) == 20  # the file's test split, untouched
    assert len(ds.y_train) + len(ds.y_val) == 60
    assert len(ds.y_val) == 10  # carved from training, 1/6, fixed
    assert sorted(np.bincount(ds.y_val)) == [3, 3, 4]  # stratified
    again = load_data(str(tmp_path / "set"))
    np.testing.assert_array_equal(ds.y_val, again.y_val)
    assert float(ds.x_train.max()) <= 1.0


def _bad(tmp_path: Path, key: str, data: bytes) -> Path:
    _write_set(tmp_path / "set", gz=False)
    (tmp_path / "set" / FILES[key]).write_bytes(data)
    return tmp_path / "set"


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("train_images", b"\x08\x03" + b"\0" * 20, "wrong magic number"),
        ("train_images", _idx(np.zeros((60, 12, 12)))[:-7], "truncated"),
        ("train_images", _idx(np.zeros((60, 12, 12))) + b"xx", "longer than its header"),
        (
            "train_images",
            struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", 60, 9999, 9),
            "over the caps",
        ),
        ("train_images", struct.pack(">BBBB", 0, 0, 0x07, 3), "unknown IDX type"),
        ("train_labels", _idx(np.arange(59) % 3), "59 labels for 60 images"),
        ("test_labels", _idx(np.zeros((20, 2))), "one-dimensional"),
    ],
    ids=["magic", "truncated", "trailing", "huge", "type", "count", "labels-2d"],
)
def test_bad_idx_files_are_one_clear_error(
    tmp_path: Path, key: str, data: bytes, message: str
) -> None:
    folder = _bad(tmp_path, key, data)
    with pytest.raises(DataError, match=message):
        load_data(str(folder))


def test_bad_idx_file_is_one_line_and_exit_2_from_the_cli(tmp_path: Path) -> None:
    folder = _bad(tmp_path, "train_images", _idx(np.zeros((60, 12, 12)))[:-7])
    db = tmp_path / "studies.db"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "nas",
            "search",
            "--space",
            "mobile",
            "--budget",
            "2",
            "--data",
            str(folder),
            "--storage",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated" in lines[0]
    assert not db.exists()  # checked before anything is written


def test_read_idx_gzip_bomb_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nas.data.idx as idx

    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 1000)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\0" * 5000))
    with pytest.raises(DataError, match="cap"):
        read_idx(path)


def test_fashion_name_when_missing_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAS_FASHION_MNIST", str(tmp_path / "none"))
    monkeypatch.delenv("NAS_DEFAULT_DATA", raising=False)
    assert default_data() == "digits"
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_data(FASHION)


needs_fashion = pytest.mark.skipif(
    not fashion_available(),
    reason="Debian's dataset-fashion-mnist is not installed (scripts/test.sh installs it)",
)


@needs_fashion
def test_fashion_mnist_is_the_default_with_its_official_splits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NAS_DEFAULT_DATA", raising=False)
    assert default_data() == FASHION
    ds = load_data(FASHION)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (50_000, 10_000, 10_000)
    assert ds.shape == (1, 28, 28) and ds.num_classes == 10
    sub = load_data(FASHION, train_images=1000, val_images=500)
    assert (len(sub.y_train), len(sub.y_val), len(sub.y_test)) == (1000, 500, 10_000)
    assert set(np.bincount(sub.y_val)) == {50}  # stratified
