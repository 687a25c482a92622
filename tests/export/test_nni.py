"""NNI (optional extra ``nas[nni]``) takes an export and its compression.json as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nas
from nas.export import files
from tests.export.helpers import exported


def test_nni_pruner_accepts_the_export_and_makes_masks(tmp_path_factory) -> None:
    pruning = pytest.importorskip("nni.compression.pruning")
    export_dir: Path = exported(tmp_path_factory)
    config_list = json.loads((export_dir / files.COMPRESSION).read_text())
    model = nas.load(export_dir)
    _, masks = pruning.L1NormPruner(model, config_list).compress()
    assert set(masks) == set(config_list[0]["op_names"])
    modules = dict(model.named_modules())
    for name, m in masks.items():
        w = m["weight"]
        assert w.shape == modules[name].weight.shape
        per_channel = w.flatten(1).float().mean(dim=1)  # whole output channels masked
        assert set(per_channel.tolist()) <= {0.0, 1.0}
        assert float(per_channel.mean()) == pytest.approx(0.5, abs=0.5 / len(per_channel))
