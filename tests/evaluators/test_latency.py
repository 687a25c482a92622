"""Latency modes, the measurement cache, table profiling and the predictor on the tiny space."""

from __future__ import annotations

import random

import optuna
import pytest
from optuna.trial import TrialState

from nas.evaluators.latency import (
    LatencyMeter,
    fit_predictor,
    load_predictor,
    measure_arch,
    profile_table,
    sample_archs,
)
from nas.hardware import TimingConfig, create_target
from nas.hardware.lut import Correction, LatencyPredictor, all_specs, lut_key, quality
from nas.hardware.target import Target
from nas.pareto import Front2D
from nas.search import SearchOptions, run_search
from nas.storage import Store, keys
from nas.storage.latency_cache import LatencyCache
from nas.storage.latency_lut import LatencyTableStore
from tests.conftest import TINY

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


def _predictor(space, scale: float) -> LatencyPredictor:
    # a fake table: every layer 1 ms, so a prediction is scale x layer count
    table = {lut_key(s): 1.0 for s in all_specs(space, 10)}
    return LatencyPredictor(space, table, Correction(scale, 0.0, 0), 10)


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


@pytest.mark.slow
def test_predictor_fitted_on_tiny_ranks_its_own_measurements(tiny_space, storage_url) -> None:
    store = Store(storage_url)
    # The thread's CPU time: other jobs on a shared CI machine cannot scramble the ranking
    target = create_target("cpu", threads=1, timing=TimingConfig(clock="cpu"))
    pred = fit_predictor(store, tiny_space, target, 10, samples=8, seed=0)
    assert pred.correction.n == 8 and pred.correction.a > 0
    fit = LatencyTableStore(store).fit(tiny_space.digest, target.fingerprint_id(), 10)
    assert (
        fit is not None and fit["a"] == pred.correction.a and len(fit["meta"]["arch_hashes"]) == 8
    )
    assert load_predictor(store, tiny_space, target, 10).correction == pred.correction
    archs = sample_archs(tiny_space, 12, seed=99, extremes=False)
    cache = LatencyCache(store)
    measured = [
        float(measure_arch(tiny_space, a, target, 10, cache)[0]["median_ms"]) for a in archs
    ]
    q = quality([pred.predict(a) for a in archs], measured)
    # the bound is loose (tiny networks span a narrow range), but a table that did not track
    # the networks' cost would not rank them at all (tau ~ 0)
    assert q.kendall_tau > 0.5, q


@pytest.mark.slow
def test_hybrid_search_records_where_each_latency_came_from(storage_url) -> None:
    opts = SearchOptions(
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
    run_search(opts)
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
    fid = create_target("cpu", threads=1).fingerprint_id()
    from nas.spaces import load_space

    assert LatencyTableStore(store).fit(load_space(str(TINY)).digest, fid, 10) is not None
