"""Lookup-table keys and shapes, the correction fit and the quality metrics."""

from __future__ import annotations

import random

import pytest
import torch

from nas.errors import OptionError
from nas.hardware.lut import (
    MAX_MEDIAN_REL_ERROR,
    MAX_REL_ERROR,
    MIN_HOLDOUT,
    MIN_KENDALL_TAU,
    Correction,
    LatencyPredictor,
    Validation,
    all_specs,
    build_layer,
    fit_correction,
    layer_specs,
    lut_key,
    pass_agreement,
    quality,
    validate,
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
        # stem; per stage and output width (3 each): position 0 from each input width (1 for
        # the first stage, else the 3 widths before) and positions 1.., x 9 kernel/expand; a
        # head per last width. Stage 1 and stage 3 both have a 24-wide 4x4 repeat: 9 shared.
        assert len(rows) == 1 + 3 * (1 + 1) * 9 + 3 * 3 * (3 + 1) * 9 + 3 - 9


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


def test_every_stem_and_head_of_mobile_runs_at_its_entry_shape() -> None:
    """mobile's last stage has elastic widths: a head entry per width, each built to read that
    width (every such entry failed in conv2d when the head was built for the widest)."""
    space = load_space("mobile")
    ends = [s for s in all_specs(space, 10) if s.kind in ("stem", "head")]
    assert sorted(s.in_ch for s in ends if s.kind == "head") == [24, 48, 64]
    with torch.no_grad():
        for spec in ends:
            out = build_layer(space, spec)(torch.zeros(spec.input_shape))
            assert out.shape[0] == spec.batch, lut_key(spec)


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


def test_validation_figures_and_thresholds() -> None:
    measured = [10.0, 20.0, 30.0, 40.0, 50.0]
    v = validate([11.0, 19.0, 33.0, 40.0, 45.0], measured)
    assert v.n == 5 and v.kendall_tau == pytest.approx(1.0)
    assert v.median_rel_error == pytest.approx(0.1) and v.max_rel_error == pytest.approx(0.1)
    assert v.failures() == [] and v.validated_at.endswith("UTC")
    assert Validation.from_dict(v.to_dict()) == v
    assert "validated on 5 held-out networks: Kendall tau 1.000" in v.summary()
    # the busy-machine fit of issue 14: 241.7 ms predicted for 19.5 ms, nothing ranked
    bad = validate([241.7] * 5, [19.5, 25.0, 30.0, 21.0, 40.0])
    assert bad.kendall_tau == 0.0  # undefined for constant predictions: ranks nothing
    why = bad.failures()
    assert len(why) == 3 and why[0] == f"Kendall tau 0.00 (needs >= {MIN_KENDALL_TAU})"
    assert f"needs <= {100 * MAX_MEDIAN_REL_ERROR:.0f} %" in why[1]
    assert f"needs <= {100 * MAX_REL_ERROR:.0f} %" in why[2]
    few = validate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert few.failures() == [f"only 3 held-out networks (needs >= {MIN_HOLDOUT})"]


def test_validation_from_a_stored_fit_without_figures_is_none() -> None:
    assert Validation.from_dict({}) is None
    assert Validation.from_dict({"n": "x", "kendall_tau": 1}) is None


def test_docs_list_the_thresholds_the_code_uses() -> None:
    from nas.storage import latency_lut as predictor  # where the thresholds live
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "hardware.md").read_text()
    for name in ("MIN_KENDALL_TAU", "MAX_MEDIAN_REL_ERROR", "MAX_REL_ERROR", "MIN_HOLDOUT"):
        assert f"| `{name}` | {getattr(predictor, name)!r} |" in text, name
    assert f"`--holdout` (default\n{predictor.DEFAULT_HOLDOUT}" in text
