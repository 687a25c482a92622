"""Lookup-table keys and shapes, the correction fit and the quality metrics."""

from __future__ import annotations

import random

import pytest
import torch

from nas.errors import OptionError
from nas.hardware.lut import (
    Correction,
    LatencyPredictor,
    all_specs,
    build_layer,
    fit_correction,
    layer_specs,
    lut_key,
    pass_agreement,
    quality,
)
from nas.spaces import load_space


@pytest.mark.parametrize("name", ["mobile", "tiny"])
def test_every_architecture_uses_only_table_rows(name: str, tiny_space) -> None:
    space = tiny_space if name == "tiny" else load_space("mobile")
    rows = {lut_key(s) for s in all_specs(space, 10)}
    rng = random.Random(0)
    used: set[str] = set()
    for arch in [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(200)]:
        keys = [lut_key(s) for s in layer_specs(space, arch, 10)]
        assert set(keys) <= rows
        used.update(keys)
    if name == "tiny":
        # stem + 2 stages x 2 positions x (2 kernels x 2 expands) + head
        assert len(rows) == 1 + 2 * 2 * 4 + 1 and used == rows
    else:
        assert len(rows) == 1 + 5 * 2 * 9 + 1  # 5 stages, position 0 and 1.., 3x3 options


def test_layers_chain_shapes_like_the_network(tiny_space) -> None:
    arch = tiny_space.sample(random.Random(3))
    specs = layer_specs(tiny_space, arch, 7)
    assert [s.kind for s in specs][0] == "stem" and specs[-1].kind == "head"
    x = torch.zeros(specs[0].input_shape)
    with torch.no_grad():
        for spec in specs:
            assert tuple(x.shape) == spec.input_shape, lut_key(spec)
            x = build_layer(tiny_space, spec)(x)
    assert tuple(x.shape) == (1, 7)


def test_layers_after_the_first_of_a_stage_share_one_key(tiny_space) -> None:
    arch = tiny_space.canonical(
        {
            "stage0.depth": 3,
            **{
                f"stage0.layer{j}.{k}": v
                for j in range(3)
                for k, v in (("kernel", 3), ("expand", 2))
            },
            "stage1.depth": 1,
            "stage1.layer0.kernel": 5,
            "stage1.layer0.expand": 3,
        }
    )
    keys = [lut_key(s) for s in layer_specs(tiny_space, arch, 10)]
    assert len(keys) == 6 and keys[2] == keys[3] and keys[1] != keys[2]
    assert keys[1] == "mbconv:i8-o8-m0-s2-k3-e2-c0-1x8x8"  # latency at the scoring shape


def test_nb201_has_no_table() -> None:
    with pytest.raises(OptionError, match="chain space"):
        all_specs(load_space("nb201"), 10)


def test_fit_recovers_a_linear_relation() -> None:
    sums = [1.0, 2.0, 3.0, 5.0]
    c = fit_correction(sums, [1.5 * s + 0.25 for s in sums])
    assert c.a == pytest.approx(1.5) and c.b == pytest.approx(0.25) and c.n == 4
    single = fit_correction([2.0], [3.0])
    assert single.a == pytest.approx(1.5) and single.b == 0.0


def test_predictor_is_sum_times_a_plus_b(tiny_space) -> None:
    table = {lut_key(s): 1.0 + i for i, s in enumerate(all_specs(tiny_space, 10))}
    arch = tiny_space.smallest()
    total = sum(table[lut_key(s)] for s in layer_specs(tiny_space, arch, 10))
    p = LatencyPredictor(tiny_space, table, Correction(2.0, 0.5, 3), 10)
    assert p.table_sum(arch) == pytest.approx(total)
    assert p.predict(arch) == pytest.approx(2 * total + 0.5)
    assert p.missing(arch) == []
    assert len(LatencyPredictor(tiny_space, {}, Correction(), 10).missing(arch)) == 4


def test_quality_metrics() -> None:
    q = quality([1.0, 2.0, 3.3, 4.0], [1.0, 2.0, 3.0, 5.0])
    assert q.kendall_tau == pytest.approx(1.0) and q.n == 4
    assert q.mape == pytest.approx((0 + 0 + 0.1 + 0.2) / 4)
    assert q.within_10 == pytest.approx(0.75)  # 3.3 vs 3.0 is exactly 10 %: inside
    assert quality([2.0, 1.0], [1.0, 2.0]).kendall_tau == pytest.approx(-1.0)


def test_pass_agreement_is_the_median_pairwise_tau() -> None:
    a, b, c = [1.0, 2.0, 3.0, 4.0], [1.1, 2.1, 2.9, 4.2], [2.0, 1.0, 3.0, 4.0]
    # pairs: (a, b) 1.0, (a, c) 2/3, (b, c) 2/3 -> median 2/3
    assert pass_agreement([a, b, c]) == pytest.approx(2 / 3)
    assert pass_agreement([a, b]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two passes"):
        pass_agreement([a])
