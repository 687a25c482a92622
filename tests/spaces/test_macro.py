"""The built-in ``macro`` space is NAS-Bench-Macro: its codes, and its networks' parameters and
FLOPs equal to the table's (issue 21, item 3). ``benchmarks/bench_macro.py`` checks all 6,561."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

from nas.errors import ArchitectureError, SpaceError
from nas.spaces import ChainSpace, load_space
from nas.spaces.loader import space_from_dict
from tests.conftest import ROOT

# beside the checkout; NAS_BENCH_DIR points elsewhere (a git worktree, say)
BENCH = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench")
TABLE = BENCH / "nas_bench_macro_cifar10.csv"


@pytest.fixture(scope="module")
def macro() -> ChainSpace:
    space = load_space("macro")
    assert isinstance(space, ChainSpace)
    return space


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, str]]:
    if not TABLE.exists():
        if os.environ.get("CI") or os.geteuid() == 0:  # CI has shared/bench beside the checkout
            pytest.fail(f"{TABLE} is missing; the macro space is checked against it in CI")
        pytest.skip(f"{TABLE} is not beside the checkout")
    with TABLE.open() as f:
        return {r["arch"]: r for r in csv.DictReader(f)}


def test_the_space_has_nas_bench_macros_shape(macro: ChainSpace) -> None:
    assert macro.size() == 3**8
    assert [c.label for c in macro.choices if c.label.endswith(".op")] == [
        f"stage{i}.layer{j}.op" for i, d in enumerate((2, 3, 3)) for j in range(d)
    ]
    assert macro.choice("stage1.layer2.op").options == ("identity", "k3e3", "k5e6")
    assert [s.channels for s in macro.stages] == [64, 128, 256]
    assert [s.stride for s in macro.stages] == [2, 2, 2] and macro.stem_stride == 1
    assert macro.latency_input.shape == (1, 3, 32, 32)
    assert macro.describe(macro.smallest()) == "00000000"
    assert macro.describe(macro.largest()) == "22222222"


def test_codes_and_architectures_are_one_to_one(macro: ChainSpace) -> None:
    rng = random.Random(0)
    for _ in range(50):
        arch = macro.sample(rng)
        assert macro.from_code(macro.describe(arch)) == arch
    assert macro.from_code("01201201")["stage2.layer2.op"] == "k3e3"
    for bad in ("0120120", "01201203", "0120120x"):
        with pytest.raises(ArchitectureError, match="not an architecture code"):
            macro.from_code(bad)


def test_the_mobile_space_keeps_its_digest() -> None:
    # studies, lookup tables and nas/fidelity_records.json are keyed by it: the new chain
    # fields (layer_ops, activation) count in a digest only where a file sets them
    assert load_space("mobile").digest == "94d9a2b3436d41a9"


def _sample_codes() -> list[str]:
    rng = random.Random(21)
    codes = {"00000000", "22222222", "11111111", "20000000", "00000002", "01201201"}
    while len(codes) < 50:
        codes.add("".join(rng.choice("012") for _ in range(8)))
    return sorted(codes)


@pytest.mark.parametrize("code", _sample_codes())
def test_parameters_and_flops_equal_the_tables(macro, table, code: str) -> None:
    from nas.hardware.cost import count_flops, count_params
    from nas.supernet import create_subnet

    net = create_subnet(macro, macro.from_code(code), 10)
    assert count_params(net) == int(table[code]["params"])
    # the table's FLOPs are MACs of the convolutions and the classifier (torch counts 2 a MAC)
    assert count_flops(net, (1, 3, 32, 32)) == 2 * int(table[code]["flops"])


def test_identity_layers_follow_nas_bench_macro(macro: ChainSpace) -> None:
    """A 1x1 conv + BN (no activation) where the layer changes stride or width, else nothing."""
    from torch import nn

    from nas.supernet import create_subnet
    from nas.supernet.mbconv import Shortcut

    net = create_subnet(macro, macro.from_code("00000000"), 10)
    skips = [m for m in net.modules() if isinstance(m, Shortcut)]
    assert len(skips) == 8
    assert [s.proj is not None for s in skips] == [
        True,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert not any(isinstance(m, nn.ReLU6) for m in net.modules())  # the benchmark's ReLU


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layer_choices": {"kernel": [3], "expand": [3]}}, "exactly one of layer_choices"),
        ({"layer_ops": ["identity", "identity"]}, "distinct operations"),
        ({"layer_ops": ["identity", {"kernel": 4, "expand": 3}]}, "kernel must be one of"),
        ({"stages": [{"channels": [32, 64], "stride": 2, "depth": [2]}]}, "one width and one"),
        ({"stages": [{"channels": 64, "stride": 2, "depth": [1, 2]}]}, "one width and one"),
    ],
)
def test_bad_layer_ops_are_refused_with_one_line(change: dict, message: str) -> None:
    raw = load_space("macro").model.model_dump(exclude_none=True)
    raw.update(change)
    with pytest.raises(SpaceError, match=message):
        space_from_dict(raw)


def test_lookup_table_rows_cover_the_identity_layers(macro: ChainSpace) -> None:
    """Identity layers are table rows where they compute (a 1x1 conv + BN), none elsewhere;
    the rows chain shapes like the network."""
    import torch

    from nas.hardware.lut import all_specs, build_layer, layer_specs, lut_key

    rows = {lut_key(s) for s in all_specs(macro, 10)}
    # stem, head; per stage: position 0 (k3e3, k5e6, shortcut), positions 1.. (k3e3, k5e6)
    assert len(rows) == 2 + 3 * (3 + 2)
    for code in ("00000000", "22222222", "01201201"):
        specs = layer_specs(macro, macro.from_code(code), 10)
        assert {lut_key(s) for s in specs} <= rows
        firsts = sum(code[i] == "0" for i in (0, 2, 5))  # identity where stride and width change
        assert [s.kind for s in specs].count("shortcut") == firsts
        x = torch.zeros(specs[0].input_shape)
        with torch.no_grad():
            for spec in specs:
                assert tuple(x.shape) == spec.input_shape, lut_key(spec)
                x = build_layer(macro, spec)(x)
        assert tuple(x.shape) == (1, 10)
