"""Targets: the protocol on a module with a known delay, ONNX Runtime, CUDA, cost metrics."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from nas.errors import OptionError
from nas.hardware import TimingConfig, create_target, target_names
from nas.hardware.cost import count_flops, forward_costs
from nas.hardware.onnx_export import to_onnx_bytes


class Sleeper(torch.nn.Module):
    """A module whose forward takes a known time: ``delays_ms`` in turn (sleep, then identity)."""

    def __init__(self, delays_ms: list[float]) -> None:
        super().__init__()
        self.delays = delays_ms
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delays[self.calls % len(self.delays)] / 1000.0)
        self.calls += 1
        return x


def test_cpu_target_median_of_a_known_delay() -> None:
    # sleep() never returns early and a busy machine only makes it later, so the band is
    # asymmetric: at least the delay, at most a generous scheduling slack above it.
    module = Sleeper([20.0])
    cfg = TimingConfig(warmup=2, min_runs=8, max_runs=20, max_seconds=5.0)
    stats = create_target("cpu", threads=1, timing=cfg).measure(module, (1, 4))
    assert 20.0 <= stats.median_ms <= 35.0
    assert stats.min_ms >= 20.0 and stats.p10_ms <= stats.median_ms <= stats.p90_ms
    assert 8 <= stats.runs + stats.rejected <= 20
    assert module.calls == 2 + stats.runs + stats.rejected  # warm-up runs are not timed
    assert stats.warmup == 2 and stats.repeat == 1


def test_spread_delays_are_noisy_and_run_to_the_cap() -> None:
    # 12, 26 and 40 ms in turn: the median's error stays far above 1 %, p10-p90 spans ~28 ms
    module = Sleeper([12.0, 26.0, 40.0])
    cfg = TimingConfig(warmup=1, min_runs=6, max_runs=12, max_seconds=10.0)
    stats = create_target("cpu", threads=1, timing=cfg).measure(module, (1, 4))
    assert stats.runs + stats.rejected == 12 and module.calls == 1 + 12
    assert stats.noisy and stats.repeat == 1
    assert stats.p10_ms >= 12.0 and stats.p90_ms >= 40.0
    assert 26.0 <= stats.median_ms <= 40.0


def test_onnx_export_has_a_dynamic_batch_and_matches_torch() -> None:
    import onnxruntime as ort

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    sess = ort.InferenceSession(to_onnx_bytes(net, (1, 3, 8, 8)))
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    (y,) = sess.run(None, {"input": x})
    with torch.no_grad():
        np.testing.assert_allclose(y, net(torch.from_numpy(x)).numpy(), atol=1e-5)


def test_onnx_export_rejects_bad_shapes() -> None:
    with pytest.raises(OptionError, match="positive input shape"):
        to_onnx_bytes(torch.nn.Identity(), (0, 3))


def test_onnxruntime_target_measures_and_names_its_runtime() -> None:
    import onnxruntime as ort

    cfg = TimingConfig(min_runs=5, max_runs=10)
    target = create_target("onnxruntime", threads=1, timing=cfg)
    stats = target.measure(torch.nn.Conv2d(3, 8, 3), (1, 3, 16, 16))
    assert stats.median_ms > 0 and 5 <= stats.runs + stats.rejected <= 10
    fp = target.fingerprint()
    assert fp["runtime"] == f"onnxruntime {ort.__version__}" and fp["threads"] == 1
    assert str(fp["providers"]).endswith("CPUExecutionProvider")
    assert target.fingerprint_id() != create_target("cpu", threads=1).fingerprint_id()
    assert target.fingerprint_id() != create_target("onnxruntime", threads=2).fingerprint_id()


def test_onnxruntime_unknown_provider() -> None:
    with pytest.raises(OptionError, match="NoSuchExecutionProvider.*not installed"):
        create_target("onnxruntime", providers=["NoSuchExecutionProvider"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_device_says_so() -> None:
    with pytest.raises(OptionError, match="no CUDA device"):
        create_target("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_measures_with_events() -> None:
    target = create_target("cuda", timing=TimingConfig(min_runs=5, max_runs=10))
    net = torch.nn.Conv2d(3, 8, 3)
    stats = target.measure(net, (1, 3, 32, 32))
    assert stats.median_ms > 0
    assert next(net.parameters()).device.type == "cpu"  # the caller's module stays put
    assert "gpu" in target.fingerprint()


def test_every_target_is_registered() -> None:
    assert {"cpu", "onnxruntime", "cuda", "remote"} <= set(target_names())


def test_peak_activation_memory_of_a_known_chain() -> None:
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(inplace=True),  # in place: no new activation
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.Conv2d(16, 4, 1),
    )
    px, f32 = 16 * 16, 4
    # the input stays alive (the caller holds it); the widest moment holds conv2's input
    # (8 channels) and output (16 channels) together
    expected = 3 * px * f32 + (8 + 16) * px * f32
    assert forward_costs(net, (2, 3, 16, 16))[1] == 2 * expected
    flops, peak = forward_costs(net, (1, 3, 16, 16))
    assert flops == count_flops(net, (1, 3, 16, 16)) and peak == expected


def test_cpu_clock_does_not_count_time_the_thread_was_not_running() -> None:
    # A sleeping module uses no CPU: the wall clock sees 20 ms, the thread's CPU clock ~0.
    module = Sleeper([20.0])
    cfg = TimingConfig(warmup=1, min_runs=5, max_runs=5, clock="cpu")
    target = create_target("cpu", threads=1, timing=cfg)
    stats = target.measure(module, (1, 4))
    assert stats.median_ms < 5.0 and module.calls == 6
    fp = target.fingerprint()
    assert fp["clock"] == "cpu" and "clock" not in create_target("cpu", threads=1).fingerprint()
    assert target.fingerprint_id() != create_target("cpu", threads=1).fingerprint_id()
    ort = create_target("onnxruntime", threads=1, timing=cfg)
    assert ort.fingerprint()["clock"] == "cpu"


def test_bad_clock() -> None:
    with pytest.raises(OptionError, match="clock wall or cpu"):
        TimingConfig(clock="sundial")


@pytest.mark.parametrize("space_name", ["mobile", "resnet", "nb201"])
def test_flops_equal_torchs_own_counter_even_inside_inference_mode(space_name: str) -> None:
    # forward_costs counts with torch's per-operator formulas without FlopCounterMode; the
    # totals must be FlopCounterMode's, also when the caller is in inference mode (where
    # composite operators would otherwise reach the counter whole and count as zero)
    import random

    from torch.utils.flop_counter import FlopCounterMode

    from nas.spaces import load_space
    from nas.supernet import create_subnet

    space = load_space(space_name)
    net = create_subnet(space, space.sample(random.Random(0)), 10).eval()
    shape = (1, space.input_channels, space.train_resolution, space.train_resolution)
    reference = FlopCounterMode(display=False)
    with torch.inference_mode(), reference:
        net(torch.zeros(*shape))
    assert reference.get_total_flops() > 0
    assert forward_costs(net, shape)[0] == reference.get_total_flops()
    with torch.inference_mode():
        assert forward_costs(net, shape)[0] == reference.get_total_flops()
