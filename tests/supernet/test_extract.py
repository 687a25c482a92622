"""The extracted standalone network computes exactly what the supernet computes on its path."""

from __future__ import annotations

import random

import pytest
import torch

from nas.spaces import load_space
from nas.supernet import create_subnet, create_supernet
from nas.supernet.bn import recalibrate_bn
from nas.supernet.score import copy_bn_stats, small_input_view
from tests.conftest import TINY


def _perturbed_supernet(space, seed: int = 0):
    """A supernet whose weights and BatchNorm statistics are not at their initial values."""
    torch.manual_seed(seed)
    net = create_supernet(space, 10)
    with torch.no_grad():
        for name, buf in net.named_buffers():
            if "running_mean" in name:
                buf.normal_(0, 0.5)
            elif "running_var" in name:
                buf.uniform_(0.5, 2.0)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.mark.parametrize("space_name", [str(TINY), "mobile", "macro"])
def test_extracted_equals_supernet_path(space_name: str) -> None:
    space = load_space(space_name)
    net = _perturbed_supernet(space)
    rng = random.Random(0)
    res = space.train_resolution
    x = torch.randn(4, 3, res * 2, res * 2)  # (B, C, H, W)
    archs = [space.sample(rng) for _ in range(6)]
    if hasattr(space, "largest"):
        archs += [space.largest(), space.smallest()]
    for arch in archs:
        sub = net.extract(arch).eval()
        with torch.no_grad():
            expected = net(x, arch)
            got = sub(x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        # only the chosen operations are in the standalone network
        n_sub = sum(p.numel() for p in sub.parameters())
        n_all = sum(p.numel() for p in net.parameters())
        assert n_sub < n_all or arch == getattr(space, "largest", dict)()


def test_extracted_network_has_the_same_structure_as_a_fresh_one(tiny_space) -> None:
    net = _perturbed_supernet(tiny_space)
    arch = tiny_space.sample(random.Random(5))
    sub = net.extract(arch)
    fresh = create_subnet(tiny_space, arch, 10)
    fresh.load_state_dict(sub.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(fresh.eval()(x), sub.eval()(x))


def test_largest_path_has_more_parameters_than_smallest(tiny_space) -> None:
    net = create_supernet(tiny_space, 10)
    big = sum(p.numel() for p in net.extract(tiny_space.largest()).parameters())
    small = sum(p.numel() for p in net.extract(tiny_space.smallest()).parameters())
    assert big > small


def test_small_input_view_is_exact_and_shares_bn_statistics() -> None:
    space = load_space("mobile")
    net = _perturbed_supernet(space)
    arch = space.largest()
    full = net.extract(arch).eval()

    def kernels(module: torch.nn.Module) -> list[int]:
        return [m.kernel_size[0] for m in module.modules() if isinstance(m, torch.nn.Conv2d)]

    # at the scoring resolution no tap only sees padding (no dead choices): nothing to crop
    score = (8, 3, space.train_resolution, space.train_resolution)
    assert kernels(small_input_view(full, score)) == kernels(full)
    # on a smaller input the late 7x7 kernels see padding only and are cropped, exactly
    shape = (8, 3, 8, 8)
    view = small_input_view(full, shape)
    assert sum(kernels(view)) < sum(kernels(full))
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(view.eval()(x), full(x), rtol=1e-5, atol=1e-5)
    batches = [torch.randn(*shape) for _ in range(2)]
    recalibrate_bn(view, batches)
    copy_bn_stats(full, view)
    reference = recalibrate_bn(net.extract(arch), batches)
    with torch.no_grad():
        torch.testing.assert_close(full(x), reference(x), rtol=1e-4, atol=1e-4)


def test_recalibration_changes_statistics_and_ignores_batch_order(tiny_space) -> None:
    net = _perturbed_supernet(tiny_space)
    arch = tiny_space.sample(random.Random(1))
    batches = [torch.randn(16, 3, 8, 8) + i for i in range(3)]
    a = recalibrate_bn(net.extract(arch), batches)
    b = recalibrate_bn(net.extract(arch), list(reversed(batches)))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(a(x), net.extract(arch).eval()(x))
