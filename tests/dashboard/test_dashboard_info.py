"""Chart data of the dashboard: points, fronts, anytime curves, architectures, hardware."""

from __future__ import annotations

import random

import pytest
from optuna.trial import TrialState

from dashboard import info
from dashboard.arch import CellArch, ChainArch, PlainArch, arch_info, export_command
from dashboard.data import LatencyRow, Reader
from nas.analysis.anytime import history
from nas.analysis.results import pareto_front
from nas.spaces import load_space
from nas.storage import keys
from tests.conftest import TINY
from tests.dashboard.synthetic import FINGERPRINT_ID, make_study


@pytest.fixture
def reader(storage_url: str) -> Reader:
    make_study(storage_url, "a", 30, space=str(TINY), seed=1, running=2, failed=1, budget=40)
    make_study(storage_url, "capped", 20, space=str(TINY), seed=2, max_latency_ms=0.6)
    return Reader(storage_url)


def test_study_data_counts_every_state(reader: Reader) -> None:
    d = reader.study("a")
    assert len(d.trials) == 33 and len(d.complete) == 30 and d.budget == 40
    assert d.count(TrialState.RUNNING) == 2 and d.count(TrialState.FAIL) == 1
    assert d.settings is not None and d.settings.space == "tiny"
    assert d.directions == ("maximize", "minimize")


def test_pareto_info_has_one_point_per_completed_trial_and_the_storage_front(
    reader: Reader,
) -> None:
    d = reader.study("a")
    p = info.pareto_info(d)
    assert [x.number for x in p.points] == [t.number for t in d.complete]
    assert list(p.front) == [t.number for t in pareto_front(d.complete)]
    assert {x.number for x in p.points if x.on_front} == set(p.front)
    assert p.knee in p.front
    pt = p.by_number(p.front[0])
    t = d.trial(p.front[0])
    assert pt is not None and t is not None
    assert pt.latency_ms == t.user_attrs[keys.LATENCY_MS]
    assert pt.p90_ms == pytest.approx(t.user_attrs[keys.LATENCY]["p90_ms"])
    assert pt.arch_str == t.user_attrs[keys.ARCH_STR]


def test_infeasible_trials_are_marked_and_kept_off_the_front(reader: Reader) -> None:
    d = reader.study("capped")
    p = info.pareto_info(d)
    slow = {x.number for x in p.points if x.latency_ms > 0.6}
    assert slow, "the synthetic study should have trials over the limit"
    assert {x.number for x in p.points if not x.feasible} == slow
    assert not slow & set(p.front)
    assert p.max_latency_ms == 0.6


def test_anytime_info_matches_storage_history_and_compare_shares_the_reference(
    reader: Reader,
) -> None:
    a, c = reader.study("a"), reader.study("capped")
    assert info.anytime_info(a).points == tuple(history(a.complete))
    cmp = info.compare_info([a, c])
    assert cmp.names == ("a", "capped")
    assert {x.ref_ms for x in cmp.anytime} == {cmp.ref_ms}
    assert [len(f) for f in cmp.fronts] == [
        len(pareto_front(a.complete)),
        len(pareto_front(c.complete, 0.6)),
    ]


def test_importance_fails_soft_with_too_few_trials(storage_url: str) -> None:
    make_study(storage_url, "small", 2, space=str(TINY))
    r = Reader(storage_url)
    res = info.importance_info(r.study("small"), r.importance_study("small"))
    assert res.importances == {}
    assert res.message == "parameter importance needs 4 completed trials, has 2"


def test_importance_has_one_set_per_objective(reader: Reader) -> None:
    res = info.importance_info(reader.study("a"), reader.importance_study("a"))
    assert list(res.importances) == ["accuracy", "latency_ms"]
    for imp in res.importances.values():
        assert sum(imp.values()) == pytest.approx(1.0)


def test_hardware_pairs_predicted_latency_with_cached_measurements(storage_url: str) -> None:
    study = make_study(storage_url, "p", 6, space=str(TINY), latency_source="table")
    trials = study.get_trials()
    r = Reader(storage_url)
    rows = [
        LatencyRow(t.user_attrs[keys.ARCH_HASH], FINGERPRINT_ID, "1x3x32x32", 1.1 * (i + 1))
        for i, t in enumerate(trials[:4])
    ] + [LatencyRow("other", "another-target", "1x3x32x32", 9.0)]
    hw = info.hardware_info(r.study("p"), rows)
    assert hw.sources == {"table": 6}
    assert [x.number for x in hw.pairs] == [t.number for t in trials[:4]]
    assert [x.measured_ms for x in hw.pairs] == pytest.approx([1.1, 2.2, 3.3, 4.4])
    assert hw.cache_ms == pytest.approx((1.1, 2.2, 3.3, 4.4))  # only this study's target
    assert hw.cache_targets == {FINGERPRINT_ID: 4, "another-target": 1}
    assert hw.mape_pct is not None and hw.mape_pct > 0


def test_chain_arch_matches_the_space_layers() -> None:
    space = load_space(str(TINY))
    rng = random.Random(3)
    for _ in range(20):
        arch = space.sample(rng)
        a = arch_info(arch)
        assert isinstance(a, ChainArch)
        assert [list(s) for s in a.stages] == space.layers(arch)  # type: ignore[attr-defined]
        assert a.layer_keys == ("kernel", "expand")


def test_chain_arch_reads_the_widths_of_an_elastic_width_space() -> None:
    from dashboard.figures import plot_chain

    space = load_space("mobile")
    rng = random.Random(4)
    for _ in range(10):
        arch = space.sample(rng)
        a = arch_info(arch)
        assert isinstance(a, ChainArch)
        assert [list(s) for s in a.stages] == space.layers(arch)  # type: ignore[attr-defined]
        assert list(a.widths) == space.widths(arch)  # type: ignore[attr-defined]
    fig = plot_chain(a)
    labels = [ann.text for ann in fig.layout.annotations]
    assert labels[0].endswith(f"width {space.widths(arch)[0]}")  # type: ignore[attr-defined]


def test_chain_arch_draws_the_operations_of_a_layer_ops_space() -> None:
    from dashboard.figures import plot_chain

    space = load_space("macro")
    a = arch_info(space.from_code("01201201"))  # type: ignore[attr-defined]
    assert isinstance(a, ChainArch) and a.depths == (2, 3, 3) and a.layer_keys == ("op",)
    bars = plot_chain(a).data[0]
    assert list(bars.text) == ["identity", "k3e3", "k5e6"] * 2 + ["identity", "k3e3"]
    assert list(bars.y) == [0, 3, 6] * 2 + [0, 3]  # expansion; identity: no bar
    assert list(bars.marker.color) == [0, 3, 5] * 2 + [0, 3]  # kernel


def test_cell_arch_has_every_edge_of_an_nb201_cell() -> None:
    space = load_space("nb201")
    arch = space.sample(random.Random(0))
    a = arch_info(arch)
    assert isinstance(a, CellArch)
    assert a.nodes == 4
    assert a.edges == {(int(k[4]), int(k[5])): v for k, v in arch.items()}


def test_unknown_labels_fall_back_to_a_plain_list() -> None:
    assert arch_info({"width": 3, "act": "relu"}) == PlainArch((("width", "3"), ("act", "relu")))
    assert arch_info({}) == PlainArch(())
    # a chain arch missing an active layer is not drawn as a chain
    assert isinstance(arch_info({"stage0.depth": 2, "stage0.layer0.kernel": 3}), PlainArch)


def test_export_command_quotes_what_the_shell_would_split() -> None:
    assert export_command("my study", 7, "sqlite:///a b.db") == (
        "nas export 'my study' --trial 7 --out export/ --storage 'sqlite:///a b.db'"
    )


def test_bulk_inserted_trials_read_back_like_optuna_added_ones(storage_url: str) -> None:
    study = make_study(storage_url, "b", 3, space=str(TINY), running=1)
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.RUNNING]
    ref, bulk = trials[0], trials[1]
    assert bulk.distributions == ref.distributions
    assert set(bulk.user_attrs) == set(ref.user_attrs)
    assert bulk.values == [bulk.user_attrs[keys.ACCURACY], bulk.user_attrs[keys.LATENCY_MS]]
    space = load_space(str(TINY))
    assert space.from_params(bulk.params) == bulk.user_attrs[keys.ARCH]


# ---- lookup tables ---------------------------------------------------------------------------
PASSED = {
    "n": 10,
    "kendall_tau": 0.8667,
    "median_rel_error": 0.0312,
    "max_rel_error": 0.0814,
    "validated_at": "2026-12-03 13:00 UTC",
    "load": 1.25,
}


FINGERPRINT = {"target": "cpu", "runtime": "torch 2.5.1", "threads": 1, "cpu": "x86_64"}


def _store_table(url: str, digest: str, fid: str, validation: dict | None = PASSED) -> None:
    """A small table as `nas hardware profile` stores it: stem, two stages, head, and a fit
    with its validation on held-out networks (``validation=None``: a fit from before)."""
    from nas.storage import Store
    from nas.storage.latency_lut import LatencyTableStore

    lut = LatencyTableStore(Store(url))
    entries = {
        "stem:i3-o16-m32-s2-k3-e1-c0-1x32x32": 0.05,
        "head:i24-o10-m64-s1-k1-e1-c10-1x8x8": 0.02,
    }
    for k, e in [(3, 3), (5, 3), (3, 6)]:
        entries[f"mbconv:i16-o24-m0-s2-k{k}-e{e}-c0-1x16x16"] = 0.1 * k * e / 9
        entries[f"mbconv:i24-o24-m0-s1-k{k}-e{e}-c0-1x8x8"] = 0.05 * k * e / 9
    entries["mbconv:i24-o32-m0-s2-k3-e3-c0-1x8x8"] = 0.07  # a stage with one option profiled
    for key, ms in entries.items():
        lut.put(digest, fid, key, {"median_ms": ms}, FINGERPRINT)
    meta: dict = {"floor_ratio": 0.9, "table_sums_ms": [1.0, 2.0, 3.0]}
    meta["measured_ms"] = [1.2, 2.1, 3.3]
    if validation is not None:
        meta["validation"] = validation
    lut.put_fit(digest, fid, 10, a=1.05, b=0.1, n=3, meta=meta)


def test_lut_info_lays_the_table_out_by_position_and_option(storage_url: str) -> None:
    from tests.dashboard.synthetic import FINGERPRINT_ID

    make_study(storage_url, "s", 4, space=str(TINY))
    digest = load_space(str(TINY)).digest
    _store_table(storage_url, digest, FINGERPRINT_ID)
    _store_table(storage_url, "otherspace000000", "othertarget00000")
    r = Reader(storage_url)
    tables = r.lookup_tables()
    assert len(tables) == 2
    [lut] = info.lut_infos(tables, r.study("s"))  # only the study's space and target
    assert lut.matches_study and lut.fingerprint_id == FINGERPRINT_ID
    assert lut.columns == ("k3 e3", "k3 e6", "k5 e3")
    # network order: the 16x16 stage's first layer, then its later layers, then the next stage
    assert [row.split(" · ")[:2] for row in lut.rows] == [
        ["stage0", "first"],
        ["stage0", "later"],
        ["stage1", "first"],
    ]
    assert lut.ms[0] == pytest.approx((0.1, 0.2, 0.1 * 15 / 9))
    assert lut.ms[2] == (pytest.approx(0.07), None, None)  # not profiled: no value, not zero
    assert [label.split()[0] for label, _ in lut.fixed] == ["head", "stem"]
    [fit] = lut.fits
    assert (fit.num_classes, fit.n, fit.a) == (10, 3, 1.05)
    assert fit.r2 is not None and 0.9 < fit.r2 <= 1 and fit.mape_pct is not None
    assert fit.validation is not None and fit.validation.to_dict() == PASSED
    assert fit.failures == ()
    [row] = info.fit_rows(lut)
    assert dict(zip(info.FIT_HEAD, row, strict=True)) == {
        "classes": "10",
        "correction": "1.0500 × sum +0.100 ms",
        "fitted on": "3 networks",
        "held-out networks": "10",
        "Kendall tau": "0.867",
        "median error": "3.1 %",
        "worst error": "8.1 %",
        "validated": "2026-12-03 13:00 UTC, load 1.2",
        "used by searches": "yes: passed its validation",
    }
    # a study on another space and target sees every table
    assert len(info.lut_infos(tables, None)) == 2


def test_a_refused_or_unvalidated_fit_is_shown_as_refused_with_its_reasons(
    storage_url: str,
) -> None:
    busy = {**PASSED, "kendall_tau": 0.0, "median_rel_error": 0.65, "max_rel_error": 11.4}
    cases = {
        "busy000000000000": (busy, "Kendall tau 0.00 (needs >= 0.6); median error 65 % (needs"),
        "old0000000000000": (None, "no validation figures (fitted before fits were validated)"),
    }
    for digest, (validation, _) in cases.items():
        _store_table(storage_url, digest, "f" * 16, validation)
    luts = {i.space_digest: i for i in info.lut_infos(Reader(storage_url).lookup_tables())}
    for digest, (validation, why) in cases.items():
        [row] = info.fit_rows(luts[digest])
        verdict = row[-1]
        assert verdict.startswith("no, refused: ") and why in verdict, verdict
        assert verdict.endswith("run nas hardware profile --reprofile on a quiet machine")
        assert row[4] == ("0.000" if validation else "-")
        assert luts[digest].fits[0].failures


def test_lut_keys_parse_back_to_the_layer_they_name() -> None:
    from nas.hardware.lut import all_specs, lut_key
    from nas.storage.latency_lut import parse_key

    for spec in all_specs(load_space("mobile"), 10):
        k = parse_key(lut_key(spec))
        assert k is not None
        assert (k.kind, k.in_ch, k.out_ch, k.stride, k.kernel, k.expand, k.height) == (
            spec.kind,
            spec.in_ch,
            spec.out_ch,
            spec.stride,
            spec.kernel,
            spec.expand,
            spec.height,
        )
    assert parse_key("not a key") is None


def test_a_crowded_pareto_chart_draws_a_sample_off_the_front_and_says_so(
    reader: Reader, monkeypatch
) -> None:
    """Past MAX_DRAWN trials off the front, an even sample of them is drawn, with a note on
    the chart; every front point, and the whole set below the cap, still drawn."""
    from dashboard import figures as fg

    for name in ("a", "capped"):
        p = info.pareto_info(reader.study(name))
        full = fg.plot_pareto(p)
        drawn = lambda fig: [n for t in fig.data for n in (t.customdata or [])]  # noqa: E731
        assert sorted(drawn(full)) == sorted(x.number for x in p.points)
        assert not [a for a in full.layout.annotations if a.name == "decimated"]
        monkeypatch.setattr(fg, "MAX_DRAWN", 4)
        thin = fg.plot_pareto(p)
        monkeypatch.undo()
        off = [x.number for x in p.points if not x.on_front]
        got = drawn(thin)
        assert set(p.front) <= set(got) and set(got) <= {x.number for x in p.points}
        kept = [n for n in got if n not in p.front]
        assert 0 < len(kept) < len(off)
        (note,) = [a for a in thin.layout.annotations if a.name == "decimated"]
        assert f"{len(kept)} of {len(off)} trials off the front drawn" in note.text
        assert f"all {len(p.front)} on it" in note.text
