"""Structured pruning by rebuilding layers: exact where removed channels are dead, loadable."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.export.widths import prune, resize, widths
from nas.hardware.cost import count_params
from nas.supernet import create_subnet


def _net(tiny_space, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = create_subnet(tiny_space, tiny_space.largest(), 10).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # non-trivial BatchNorm statistics, as after training
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return net


def _kill(bn: nn.BatchNorm2d, idx: torch.Tensor) -> None:
    """Make channels ``idx`` output exactly zero after ReLU6 (gamma = beta = 0)."""
    with torch.no_grad():
        bn.weight[idx] = 0.0
        bn.bias[idx] = 0.0


def test_ratio_zero_changes_nothing(tiny_space) -> None:
    net = _net(tiny_space)
    same = prune(net, 0.0)
    x = torch.randn(3, 3, 8, 8)
    assert widths(same) == widths(net)
    with torch.no_grad():
        assert torch.equal(same(x), net(x))


def test_half_the_channels_go_and_dead_ones_go_first(tiny_space) -> None:
    net = _net(tiny_space)
    before = widths(net)
    g = torch.Generator().manual_seed(1)
    for block in net.blocks:
        h = block.expand[0].out_channels
        dead = torch.randperm(h, generator=g)[: h // 2]
        _kill(block.expand[1], dead)
        _kill(block.depthwise[1], dead)
    head_dead = torch.arange(0, before["head"], 2)
    _kill(net.ends.head[1], head_dead)
    small = prune(net, 0.5)
    assert widths(small) == {k: round(v * 0.5) for k, v in before.items()}
    assert count_params(small) < count_params(net)
    # only dead channels were removed, so the function is exactly the same
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(small(x), net(x), rtol=0, atol=1e-6)
    # the input is untouched and residual blocks keep their in/out channels
    for a, b in zip(net.blocks, small.blocks, strict=True):
        assert a.residual == b.residual
        assert a.project[0].out_channels == b.project[0].out_channels
        assert b.depthwise[0].groups == b.depthwise[0].in_channels == b.expand[0].out_channels


def test_pruned_weights_load_into_a_network_built_from_widths(tiny_space) -> None:
    small = prune(_net(tiny_space), 0.3)
    fresh = resize(create_subnet(tiny_space, tiny_space.largest(), 10), widths(small))
    fresh.load_state_dict(small.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), small(x))


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_bad_ratio(tiny_space, ratio: float) -> None:
    from nas.errors import OptionError

    with pytest.raises(OptionError, match=r"--prune must be in \[0, 1\)"):
        prune(_net(tiny_space), ratio)


def test_resize_refuses_widths_that_do_not_fit(tiny_space) -> None:
    from nas.errors import OptionError

    net = _net(tiny_space)
    with pytest.raises(OptionError, match="does not fit"):
        resize(net, {"blocks.99": 3})
    with pytest.raises(OptionError, match="does not fit"):
        resize(net, {"head": 10_000})
