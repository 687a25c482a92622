"""The measurement protocol on a fake clock with known, controllable delays."""

from __future__ import annotations

import itertools

import pytest
import torch

from nas.errors import OptionError
from nas.hardware import LatencyStats, TimingConfig, create_target
from nas.hardware.timing import summarize, time_runs


class FakeClock:
    """A clock that advances only when the timed function 'runs' for a scripted time."""

    def __init__(self, delays_ms) -> None:
        self.now = 0.0
        self.delays = iter(delays_ms)
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def run(self) -> None:
        self.calls += 1
        self.now += next(self.delays) / 1000.0


def test_constant_delay_is_stable_after_min_runs() -> None:
    clock = FakeClock(itertools.repeat(5.0))
    cfg = TimingConfig(warmup=2, min_runs=10, max_runs=50)
    stats = time_runs(clock.run, cfg, clock=clock)
    assert stats.median_ms == pytest.approx(5.0)
    assert stats.runs == 10 and stats.warmup == 2 and clock.calls == 12
    assert stats.std_ms == pytest.approx(0.0) and not stats.noisy


def test_outliers_are_rejected_and_counted() -> None:
    delays = [10.0] * 3 + [10.0, 10.1, 9.9, 10.0, 50.0, 10.05, 9.95, 10.0, 10.02, 9.98]
    clock = FakeClock(iter(delays))
    stats = time_runs(clock.run, TimingConfig(warmup=3, min_runs=10, max_runs=10), clock=clock)
    assert stats.rejected == 1
    assert stats.runs == 9
    assert stats.median_ms == pytest.approx(10.0, abs=0.01)
    assert stats.p90_ms < 11


def test_unstable_timings_hit_the_cap_and_are_noisy() -> None:
    pattern = itertools.cycle([5.0, 15.0, 10.0, 20.0, 2.0])
    clock = FakeClock(pattern)
    stats = time_runs(clock.run, TimingConfig(warmup=0, min_runs=5, max_runs=25), clock=clock)
    assert stats.runs + stats.rejected == 25
    assert stats.noisy


def test_time_cap_stops_slow_models() -> None:
    clock = FakeClock(itertools.cycle([400.0, 600.0]))
    cfg = TimingConfig(warmup=0, min_runs=3, max_runs=100, max_seconds=2.0)
    stats = time_runs(clock.run, cfg, clock=clock)
    assert stats.runs + stats.rejected <= 6


def test_short_runs_are_timed_in_groups() -> None:
    # 0.5 ms per run, samples of at least 10 ms: 20 runs per sample, each sample their mean
    clock = FakeClock(itertools.repeat(0.5))
    cfg = TimingConfig(warmup=2, min_runs=10, max_runs=50, min_sample_ms=10.0)
    stats = time_runs(clock.run, cfg, clock=clock)
    assert stats.repeat == 20 and stats.runs == 10
    assert stats.median_ms == pytest.approx(0.5)
    assert clock.calls == 2 + 10 * 20  # the last warm-up run sized the groups


def test_long_runs_are_not_grouped_and_old_rows_still_load() -> None:
    clock = FakeClock(itertools.repeat(12.0))
    stats = time_runs(clock.run, TimingConfig(warmup=1, min_runs=5, max_runs=5), clock=clock)
    assert stats.repeat == 1 and clock.calls == 1 + 5
    old = {k: v for k, v in stats.to_dict().items() if k != "repeat"}
    assert LatencyStats.from_dict(old) == stats


def test_summary_percentiles() -> None:
    s = summarize([float(i) for i in range(1, 101)], warmup=0, stable=True, noisy_spread=10)
    assert s.median_ms == pytest.approx(50.5)
    assert s.p10_ms == pytest.approx(10.9) and s.p90_ms == pytest.approx(90.1)
    assert s.min_ms == 1.0


def test_bad_config() -> None:
    with pytest.raises(OptionError):
        TimingConfig(min_runs=2)


def test_cpu_target_measures_a_module_and_restores_threads() -> None:
    before = torch.get_num_threads()
    target = create_target("cpu", threads=1, timing=TimingConfig(min_runs=5, max_runs=10))
    stats = target.measure(torch.nn.Conv2d(3, 8, 3), (1, 3, 16, 16))
    assert stats.median_ms > 0 and stats.runs + stats.rejected >= 5
    assert torch.get_num_threads() == before
    fp = target.fingerprint()
    assert fp["threads"] == 1 and "torch" in str(fp["runtime"])
    assert target.fingerprint_id() == create_target("cpu", threads=1).fingerprint_id()
    assert target.fingerprint_id() != create_target("cpu", threads=2).fingerprint_id()


def test_unknown_target_lists_known() -> None:
    with pytest.raises(OptionError, match="unknown target 'tpu'.*cpu"):
        create_target("tpu")
