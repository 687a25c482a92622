"""The darts and resnet space kinds: labels, canonical form, one-line form, file validation."""

from __future__ import annotations

import math
import random

import pytest
import yaml

from nas.errors import ArchitectureError, SpaceError
from nas.spaces import load_space, space_from_dict
from tests.conftest import ROOT


def _raw(name: str) -> dict:
    return yaml.safe_load((ROOT / "search_spaces" / f"{name}.yaml").read_text())


def test_darts_labels_and_size() -> None:
    space = load_space("darts")
    labels = [c.label for c in space.choices]
    assert len(labels) == 2 * 4 * 3
    assert space.choice("normal.node2.inputs").options == ("0,1",)
    assert space.choice("reduce.node5.inputs").options[-1] == "3,4"
    assert len(space.choice("normal.node5.inputs").options) == math.comb(5, 2)
    assert space.size() == (1 * 3 * 6 * 10 * 8**8) ** 2
    assert len(space.mixed_edges()) == 2 * (2 + 3 + 4 + 5)


def test_darts_one_line_form_round_trips_and_rejects_garbage() -> None:
    space = load_space("darts")
    rng = random.Random(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.parse(space.describe(arch)) == arch
    text = space.describe(space.sample(rng))
    body = text.split(" + ", 1)[1]  # everything after normal's first node
    with pytest.raises(ArchitectureError, match="two different inputs"):
        space.parse("normal: sep_conv_3x3~0 sep_conv_3x3~0 + " + body)
    with pytest.raises(ArchitectureError, match="expected 'normal"):
        space.parse("normal: sep_conv_3x3~0 sep_conv_3x3~1")
    with pytest.raises(ArchitectureError, match="not allowed"):
        space.canonical({**space.sample(rng), "normal.node3.inputs": "2,2"})


def test_darts_file_validation() -> None:
    raw = {**_raw("darts"), "operations": ["sep_conv_3x3", "conv_9x9"]}
    with pytest.raises(SpaceError, match="field 'operations'"):
        space_from_dict(raw)
    with pytest.raises(SpaceError, match="field 'layers'"):
        space_from_dict({**_raw("darts"), "layers": 2})


def test_resnet_labels_extremes_and_size() -> None:
    space = load_space("resnet")
    assert [c.label for c in space.choices][:4] == [
        "stage0.depth",
        "stage0.width",
        "stage0.kernel",
        "stage0.block",
    ]
    big, small = space.largest(), space.smallest()
    assert big["stage2.width"] == 128 and big["stage2.block"] == "basic"
    assert small["stage0.depth"] == 1 and small["stage0.block"] == "bottleneck"
    assert (
        space.describe(small)
        == "bottleneck d1 w16 k3 | bottleneck d1 w32 k3 | bottleneck d1 w64 k3"
    )
    assert space.size() == (3 * 3 * 2 * 2) ** 3 == len(space._enumerate())


def test_resnet_bottleneck_widths_must_divide_by_four() -> None:
    raw = _raw("resnet")
    raw["stages"][1] = {"stride": 2, "depth": [1], "width": [30, 32]}
    with pytest.raises(
        SpaceError,
        match=r"stages.1.width: bottleneck blocks need widths divisible by 4, got \[30\]",
    ):
        space_from_dict(raw)
    raw["block"] = ["basic"]
    assert space_from_dict(raw).choice("stage1.width").options == (30, 32)
