from __future__ import annotations

import csv
import random

import pytest

from nas.errors import ArchitectureError
from nas.spaces import load_space
from tests.conftest import ROOT

SAMPLE = ROOT.parent / "shared" / "bench" / "nb201_synthetic.csv"


def test_nb201_has_15625_cells() -> None:
    space = load_space("nb201")
    assert space.size() == 15625
    assert len({space.encode(a) for a in space._enumerate()}) == 15625


def test_canonical_string_round_trip() -> None:
    space = load_space("nb201")
    rng = random.Random(0)
    for _ in range(200):
        arch = space.sample(rng)
        assert space.parse(space.describe(arch)) == arch
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    assert space.describe(space.parse(resnet)) == resnet


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared/bench is not beside the checkout")
def test_every_published_key_parses() -> None:
    space = load_space("nb201")
    with SAMPLE.open() as f:
        keys = [row["arch"] for row in csv.DictReader(f)]
    assert len(keys) == 15625
    assert {space.describe(space.parse(k)) for k in keys} == set(keys)


@pytest.mark.parametrize(
    "text",
    [
        "|none~0|",
        "|none~0|+|none~0|+|none~0|none~1|none~2|",
        "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
    ],
)
def test_bad_strings(text: str) -> None:
    with pytest.raises(ArchitectureError):
        load_space("nb201").parse(text)
