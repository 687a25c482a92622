"""A project folder that is copied or moved keeps working and never reads the original's files.

Stored paths (checkpoints, the space file, the data, the options a worker reads) are relative
to the database's folder (nas/storage/paths.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest

from nas.errors import StorageError
from nas.export import files
from nas.export.study_export import ExportOptions, export_study
from nas.storage import Store, keys
from nas.storage.tables import CheckpointRecord
from tests.conftest import TINY


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with its own space file, data set, database and checkpoint, searched."""
    from sklearn.datasets import load_digits

    from nas.search.driver import run_search
    from nas.search.options import SearchOptions

    root = tmp_path_factory.mktemp("moved") / "project"
    root.mkdir()
    shutil.copy(TINY, root / "space.yaml")
    digits = load_digits()
    np.savez(root / "data.npz", x=digits.images[:300] / 16.0, y=digits.target[:300])
    run_search(
        SearchOptions(
            space=str(root / "space.yaml"),
            data=str(root / "data.npz"),
            storage=f"sqlite:///{root / 'studies.db'}",
            study="p",
            budget=2,
            supernet_epochs=1,
            calib_batches=1,
            batch_size=256,
            threads=1,
        )
    )
    return root


def _export(root: Path, out: Path) -> Path:
    export_study(
        ExportOptions(study="p", out=str(out), storage=f"sqlite:///{root / 'studies.db'}")
    )
    return out


def test_stored_paths_are_relative_to_the_database_folder(project: Path) -> None:
    url = f"sqlite:///{project / 'studies.db'}"
    with Store(url).session() as s:
        paths = [r.path for r in s.query(CheckpointRecord).all()]
    assert paths and all(p.startswith("nas_checkpoints/") for p in paths)
    settings = optuna.load_study(study_name="p", storage=url).user_attrs[keys.SETTINGS]
    assert settings["options"]["space"] == "space.yaml"
    assert settings["options"]["data"] == "data.npz"
    assert settings["data"] == "data.npz"


def test_a_copied_project_exports_after_the_original_is_gone(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _export(project, tmp_path / "first")
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, copy)
    original = tmp_path / "original-kept"
    shutil.copytree(project, original)  # put back afterwards: the fixture is shared
    try:
        shutil.rmtree(project)
        monkeypatch.chdir(tmp_path)  # nothing is read relative to the working folder
        second = _export(copy, tmp_path / "second")
    finally:
        shutil.copytree(original, project)
    for name in (files.WEIGHTS, files.METRICS, files.ONNX):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_copy_never_loads_the_originals_checkpoint(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    (ckpt,) = (copy / "nas_checkpoints").glob("*.safetensors")
    ckpt.write_bytes(b"altered")  # the original's checkpoint is intact and would load
    with pytest.raises(StorageError, match=str(copy / "nas_checkpoints")):
        _export(copy, tmp_path / "out")
