"""Latency modes, the measurement cache, table profiling and the predictor on the tiny space.

Tests that rank networks use a fake clock (tests/hardware/fake_targets.py): the tiny
networks' real timings differ by less than a shared machine's noise."""

from __future__ import annotations

import random

import optuna
import pytest
from optuna.trial import TrialState

from nas.cli import main
from nas.evaluators.latency import LatencyMeter
from nas.hardware import TimingConfig, create_target
from nas.hardware.lut import (
    Correction,
    FitRefused,
    LatencyPredictor,
    Validation,
    all_specs,
    fit_predictor,
    load_predictor,
    lut_key,
    measure_arch,
    profile_table,
    quality,
    sample_archs,
)
from nas.hardware.target import Target
from nas.pareto import Front2D
from nas.reporting import SilentReporter
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import Store, keys
from nas.storage.latency_cache import LatencyCache
from nas.storage.latency_lut import LatencyTableStore
from tests.conftest import TINY
from tests.hardware import fake_targets
from tests.hardware.fake_targets import SizeTarget

QUICK = TimingConfig(warmup=1, min_runs=3, max_runs=5, max_seconds=1.0)


class CountingTarget(Target):
    """The CPU target, counting how often it is asked to measure."""

    name = "counting"

    def __init__(self) -> None:
        self.inner = create_target("cpu", threads=1, timing=QUICK)
        self.calls = 0

    def fingerprint(self) -> dict[str, str | int]:
        return {**self.inner.fingerprint(), "target": self.name}

    def measure(self, module, input_shape):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.measure(module, input_shape)


def test_cache_hit_measures_once_across_stores_of_one_database(tiny_space, storage_url) -> None:
    target = CountingTarget()
    arch = tiny_space.sample(random.Random(1))
    first, src1 = measure_arch(tiny_space, arch, target, 10, LatencyCache(Store(storage_url)))
    again, src2 = measure_arch(tiny_space, arch, target, 10, LatencyCache(Store(storage_url)))
    assert (src1, src2) == ("measured", "cached") and target.calls == 1
    assert again == first
    other = tiny_space.mutate(arch, random.Random(2))
    measure_arch(tiny_space, other, target, 10, LatencyCache(Store(storage_url)))
    assert target.calls == 2 and LatencyCache(Store(storage_url)).count() == 2


def test_cache_key_includes_the_batch(tiny_space, storage_url) -> None:
    cache = LatencyCache(Store(storage_url))
    cache.put("h", "fp", (1, 3, 32, 32), {"median_ms": 1.0}, {})
    assert cache.get("h", "fp", (1, 3, 32, 32)) == {"median_ms": 1.0}
    assert cache.get("h", "fp", (8, 3, 32, 32)) is None
    assert cache.get("h", "other", (1, 3, 32, 32)) is None


def test_profile_measures_each_row_once_and_is_reused(tiny_space, storage_url) -> None:
    store, target = Store(storage_url), CountingTarget()
    table = profile_table(store, tiny_space, target, 10)
    assert target.calls == len(table) == len(all_specs(tiny_space, 10)) == 18
    assert profile_table(store, tiny_space, target, 10) == table and target.calls == 18
    stored = LatencyTableStore(store).entries(tiny_space.digest, target.fingerprint_id())
    assert stored == table
    # another class count adds only the head
    profile_table(store, tiny_space, target, 3)
    assert target.calls == 19


GOOD = Validation(10, 0.9, 0.02, 0.05, "2026-12-03 08:00 UTC", 0.5)


def _predictor(space, scale: float, validation: Validation | None = GOOD) -> LatencyPredictor:
    # a fake table: every layer 1 ms, so a prediction is scale x layer count
    table = {lut_key(s): 1.0 for s in all_specs(space, 10)}
    return LatencyPredictor(space, table, Correction(scale, 0.0, 0), 10, validation)


def test_hybrid_measures_only_candidates_that_could_enter_the_front(tiny_space) -> None:
    target = CountingTarget()
    meter = LatencyMeter(
        tiny_space, target, mode="hybrid", predictor=_predictor(tiny_space, 5.0), num_classes=10
    )
    arch = tiny_space.smallest()  # 4 layers: predicted 20 ms
    meter.observe(0.9, 10.0)
    # dominated: less accurate and slower than the front point
    out = meter.latency(arch, None, 0.8)
    assert out.source == "predicted" and out.stats["median_ms"] == 20.0 and target.calls == 0
    assert out.stats["runs"] == 0 and out.predicted_ms == 20.0
    # more accurate than anything on the front: measured
    out = meter.latency(arch, None, 0.95)
    assert out.source == "measured" and target.calls == 1 and out.predicted_ms == 20.0
    # less accurate, but within the 10 % margin of the front's latency: measured
    meter.front = Front2D()
    meter.front.add(0.9, 19.0)
    assert meter.latency(arch, None, 0.8).source == "measured" and target.calls == 2
    meter.front = Front2D()
    meter.front.add(0.9, 17.9)
    assert meter.latency(arch, None, 0.8).source == "predicted" and target.calls == 2


def test_front_keeps_only_non_dominated_points(tiny_space) -> None:
    meter = LatencyMeter(tiny_space, CountingTarget())
    for p in [(0.5, 5.0), (0.7, 9.0), (0.6, 10.0), (0.8, 8.0), (0.8, 8.0)]:
        meter.observe(*p)
    assert sorted(meter.front.points()) == [(0.5, 5.0), (0.8, 8.0)]


def test_predicted_mode_never_measures(tiny_space) -> None:
    target = CountingTarget()
    meter = LatencyMeter(tiny_space, target, mode="predicted", predictor=_predictor(tiny_space, 1))
    assert meter.latency(tiny_space.largest(), None, 1.0).source == "predicted"
    assert target.calls == 0


@pytest.mark.parametrize("mode", ["predicted", "hybrid"])
def test_meter_refuses_a_predictor_without_passing_validation(tiny_space, mode: str) -> None:
    for v in (None, Validation(10, 0.0, 11.4, 12.0, "2026-12-03 08:00 UTC", 9.5)):
        with pytest.raises(FitRefused, match=f"--latency {mode} needs a predictor validated"):
            LatencyMeter(
                tiny_space, CountingTarget(), mode=mode, predictor=_predictor(tiny_space, 1, v)
            )


def test_predictor_fitted_on_tiny_ranks_its_own_measurements(tiny_space, storage_url) -> None:
    """Was flaky: real timings of tiny networks differ by less than a busy machine's noise.
    On the fake clock the networks differ by a factor of 4 and nothing is noise."""
    store, target = Store(storage_url), SizeTarget()
    pred = fit_predictor(store, tiny_space, target, 10, samples=8, seed=0)
    assert pred.correction.n == 8 and pred.correction.a > 0
    fit = LatencyTableStore(store).fit(tiny_space.digest, target.fingerprint_id(), 10)
    assert fit is not None and fit["a"] == pred.correction.a
    meta = fit["meta"]
    assert len(meta["arch_hashes"]) == 8 and len(meta["holdout_hashes"]) == 10
    assert not set(meta["arch_hashes"]) & set(meta["holdout_hashes"])  # held out: not fitted
    assert pred.validation is not None and not pred.validation.failures()
    assert Validation.from_dict(meta["validation"]) == pred.validation
    loaded = load_predictor(store, tiny_space, target, 10)
    assert (loaded.correction, loaded.validation) == (pred.correction, pred.validation)
    archs = sample_archs(tiny_space, 12, seed=99, extremes=False)
    cache = LatencyCache(store)
    measured = [
        float(measure_arch(tiny_space, a, target, 10, cache)[0]["median_ms"]) for a in archs
    ]
    q = quality([pred.predict(a) for a in archs], measured)
    assert q.kendall_tau > 0.9 and q.mape < 0.05, q


def test_a_table_profiled_on_a_busy_machine_is_refused_and_no_fit_stored(
    tiny_space, storage_url
) -> None:
    store = Store(storage_url)
    profile_table(store, tiny_space, SizeTarget(busy=True, seed=0), 10)  # under load
    quiet = SizeTarget()  # the same fingerprint: the busy table is this target's
    with pytest.raises(FitRefused) as e:
        fit_predictor(store, tiny_space, quiet, 10, samples=8, seed=0)
    msg = str(e.value)
    assert "\n" not in msg and "refused: on 10 held-out networks" in msg
    assert "Kendall tau" in msg and "nas hardware profile --reprofile" in msg
    assert LatencyTableStore(store).fit(tiny_space.digest, quiet.fingerprint_id(), 10) is None
    # measured again on the quiet machine, the same fit passes and replaces the busy table
    pred = fit_predictor(store, tiny_space, quiet, 10, samples=8, seed=0, fresh=True)
    assert pred.validation is not None
    assert (
        LatencyTableStore(store).entries(tiny_space.digest, quiet.fingerprint_id()) == pred.table
    )


def test_a_fit_on_noise_is_refused_and_nothing_stored(tiny_space, storage_url) -> None:
    store, noisy = Store(storage_url), SizeTarget(busy=True, seed=1)
    with pytest.raises(FitRefused, match="refused"):
        fit_predictor(store, tiny_space, noisy, 10, samples=8)
    assert noisy.calls == 18 + 8 + 10  # the table, the fit, the held-out networks
    assert LatencyTableStore(store).tables() == []  # not even the table's entries
    assert LatencyCache(store).count() == 0


def test_a_stored_fit_without_validation_figures_is_refused(tiny_space, storage_url) -> None:
    store, target = Store(storage_url), SizeTarget()
    profile_table(store, tiny_space, target, 10)
    lut = LatencyTableStore(store)
    lut.put_fit(tiny_space.digest, target.fingerprint_id(), 10, a=1.0, b=0.0, n=8, meta={})
    with pytest.raises(FitRefused, match="has no validation figures"):
        load_predictor(store, tiny_space, target, 10)
    # `nas hardware validate` still reads it, to show what a search refuses
    assert (
        load_predictor(store, tiny_space, target, 10, require_validation=False).validation is None
    )


def _no_study(url: str) -> bool:
    return optuna.get_all_study_names(storage=url) == []


@pytest.mark.parametrize(
    ("prepare", "message"),
    [("busy", "refused: on 10 held-out networks"), ("unvalidated", "no validation figures")],
)
def test_search_refuses_a_bad_predictor_before_writing_the_study(
    prepare: str, message: str, tiny_space, storage_url, monkeypatch, capsys
) -> None:
    fake_targets.register(monkeypatch)
    store = Store(storage_url)
    if prepare == "busy":
        profile_table(store, tiny_space, SizeTarget(busy=True, seed=0), 10)
    else:
        profile_table(store, tiny_space, SizeTarget(), 10)
        fid = SizeTarget().fingerprint_id()
        LatencyTableStore(store).put_fit(tiny_space.digest, fid, 10, a=1, b=0, n=8, meta={})
    argv = ["search", "--space", str(TINY), "--latency", "predicted", "--target", "fake"]
    code = main([*argv, "--budget", "2", "--storage", storage_url])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("nas: error")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert _no_study(storage_url)


@pytest.mark.slow
def test_hybrid_search_records_where_each_latency_came_from(storage_url, monkeypatch) -> None:
    """A good fit passes its validation and is used (on the fake clock: deterministic)."""
    fake_targets.register(monkeypatch)
    opts = SearchOptions(
        target="fake",
        space=str(TINY),
        supernet_epochs=1,
        calib_batches=1,
        batch_size=256,
        storage=storage_url,
        study="h",
        budget=8,
        latency="hybrid",
        threads=1,
    )
    said: list[str] = []

    class Said(SilentReporter):
        def message(self, text: str) -> None:
            said.append(text)

    run_search(opts, Said())
    ready = [m for m in said if m.startswith("latency predictor ready")]
    assert len(ready) == 1 and "validated on 10 held-out networks: Kendall tau" in ready[0]
    trials = optuna.load_study(study_name="h", storage=storage_url).get_trials(
        states=(TrialState.COMPLETE,)
    )
    assert len(trials) == 8
    sources = {t.user_attrs[keys.LATENCY_SOURCE] for t in trials}
    assert sources <= {"measured", "cached", "predicted"}
    assert trials[0].user_attrs[keys.LATENCY_SOURCE] in ("measured", "cached")  # empty front
    for t in trials:
        ua = t.user_attrs
        assert ua[keys.LATENCY_MODE] == "hybrid"
        assert ua[keys.LATENCY_PREDICTED_MS] > 0 and ua[keys.PEAK_ACTIVATION_MB] > 0
        if ua[keys.LATENCY_SOURCE] == "predicted":
            assert ua[keys.LATENCY_MS] == ua[keys.LATENCY_PREDICTED_MS]
    store = Store(storage_url)
    fid = SizeTarget().fingerprint_id()
    from nas.spaces import load_space

    fit = LatencyTableStore(store).fit(load_space(str(TINY)).digest, fid, 10)
    assert fit is not None and Validation.from_dict(fit["meta"]["validation"]) is not None
