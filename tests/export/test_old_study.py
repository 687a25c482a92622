"""A study stored by an earlier release (without options that exist today) still exports, and
to the same network: its plan is completed on reading (nas/storage/plan.py), never re-defaulted
by the reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest

from nas.export.study_export import ExportOptions, export_study
from nas.storage import keys
from nas.storage.plan import BEFORE_OPTIONS, stored_plan
from nas.storage.studies import StudySettings
from tests.conftest import TINY

# options that came after the release that first recorded options (11d195b)
LATER = ("supernet_seed", "train_images", "val_images", "latency_input", "clock", "workers")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny search on 300 digits (fewer than --train-images and --val-images take, so the
    subsets are the whole set, as they were before those options existed)."""
    from sklearn.datasets import load_digits

    from nas.search.driver import run_search
    from nas.search.options import SearchOptions

    root = tmp_path_factory.mktemp("old") / "project"
    root.mkdir()
    digits = load_digits()
    np.savez(root / "data.npz", x=digits.images[:300] / 16.0, y=digits.target[:300])
    run_search(
        SearchOptions(
            space=str(TINY),
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


def _as_old_release(root: Path) -> Path:
    """A copy of the project whose study's settings are in an earlier release's format."""
    old = root.parent / "old-format"
    shutil.copytree(root, old)
    study = optuna.load_study(study_name="p", storage=f"sqlite:///{old / 'studies.db'}")
    raw = dict(study.user_attrs[keys.SETTINGS])
    raw["options"] = {k: v for k, v in raw["options"].items() if k not in LATER}
    study.set_user_attr(keys.SETTINGS, raw)
    return old


def _export(root: Path, out: Path) -> dict:
    export_study(
        ExportOptions(study="p", out=str(out), storage=f"sqlite:///{root / 'studies.db'}")
    )
    arch = json.loads((out / "architecture.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {"arch": arch, "accuracy": metrics["accuracy"]}


def test_an_old_study_exports_the_network_it_scored(project: Path, tmp_path: Path) -> None:
    now = _export(project, tmp_path / "now")
    old = _as_old_release(project)
    then = _export(old, tmp_path / "then")
    # the supernet was found (not retrained: a missing checkpoint is an error), recalibrated
    # with the stored 1 batch and seed, and the same network came out
    assert then["accuracy"] == now["accuracy"]
    assert then["arch"]["source"]["calib_batches"] == 1
    assert then["arch"]["source"]["seed"] == now["arch"]["source"]["seed"] == 0
    # what the old release ran with, stated: every image (no subset)
    assert then["arch"]["source"]["train_images"] is None
    assert now["arch"]["source"]["train_images"] == 8000


def test_a_study_stored_before_options_reads_what_that_release_ran_with() -> None:
    settings = StudySettings(
        space="mobile",
        space_digest="d",
        data="digits",
        data_fingerprint="f",
        strategy="tpe",
        objective="pareto",
        target="cpu",
        evaluator="supernet",
        latency_weight=-0.07,
        seed=3,
    )
    assert settings.options == {}
    plan = settings.plan()
    assert {k: plan[k] for k in BEFORE_OPTIONS} == dict(BEFORE_OPTIONS)
    # the supernet trained with --seed before --supernet-seed existed
    assert (plan["space"], plan["data"], plan["seed"], plan["supernet_seed"]) == (
        "mobile",
        "digits",
        3,
        3,
    )
    assert plan["evaluator"] == "supernet"


def test_stored_options_win_over_the_old_releases_values() -> None:
    stored = {"supernet_epochs": 7, "calib_batches": 2, "seed": 1, "supernet_seed": 0}
    plan = stored_plan(stored, {"seed": 1, "space": "mobile"})
    assert (plan["supernet_epochs"], plan["calib_batches"], plan["supernet_seed"]) == (7, 2, 0)
