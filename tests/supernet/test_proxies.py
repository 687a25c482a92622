"""Zero-cost proxies (nas.supernet.proxies): hand-computed values, determinism, no side effects."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn

from nas.errors import OptionError
from nas.supernet import create_subnet
from nas.supernet.proxies import PROXIES, compute_proxy, default_init


class TinyNet(nn.Module):
    """conv 3->4 (3x3, no bias) + BN + ReLU, global mean, linear 4->2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.bn(self.conv(x))).mean(dim=(2, 3)))


def _batch(b: int = 8, c: int = 3, hw: int = 5, classes: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, hw, hw, generator=g), torch.randint(0, classes, (b,), generator=g)


def _subnet(tiny_space, seed: int = 0) -> nn.Module:
    arch = tiny_space.sample(random.Random(seed))
    return default_init(create_subnet(tiny_space, arch, 10), seed)


def _tiny_batch(tiny_space, b: int = 8):
    r = tiny_space.train_resolution
    return _batch(b=b, hw=r, classes=10)


def test_params_and_flops_by_hand() -> None:
    net = TinyNet()
    x, y = _batch(hw=5)
    # conv 4*3*3*3 = 108, BN weight and bias 2*4, linear 4*2 + 2
    assert compute_proxy("params", net, x, y) == 108 + 8 + 10
    # per image: conv 2 * (4*5*5 outputs) * (3*3*3 taps), linear 2 * 2 * 4; BN, ReLU, mean
    # and the bias add are not multiply-adds
    assert compute_proxy("flops", net, x, y) == 2 * 100 * 27 + 2 * 2 * 4
    # data-free: the shape is enough
    assert compute_proxy("flops", net, None, None, input_shape=(1, 3, 5, 5)) == 5416


def test_flops_agree_with_the_hardware_counter(tiny_space) -> None:
    from nas.hardware.cost import count_flops

    net = _subnet(tiny_space)
    x, y = _tiny_batch(tiny_space)
    assert compute_proxy("flops", net, x, y) == count_flops(net, (1, *x.shape[1:]))


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
def test_synflow_of_a_two_layer_linear_network(act: type[nn.Module]) -> None:
    """No BN, no bias: R = 1' |W2| |W1| 1 and each layer's sum |w dR/dw| is R again (R is
    linear in each layer's weights), so synflow = 2R. Weights large enough that a ReLU6 would
    saturate: the proxy runs it as a ReLU."""
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(6, 5, bias=False), act(), nn.Linear(5, 4, bias=False)
    )
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(20)
    w1, w2 = net[1].weight.detach().double().abs(), net[3].weight.detach().double().abs()
    r = float(torch.ones(4, dtype=torch.float64) @ w2 @ w1 @ torch.ones(6, dtype=torch.float64))
    got = compute_proxy("synflow", net, None, None, input_shape=(2, 1, 2, 3))
    assert got == pytest.approx(2 * r, rel=1e-12)
    assert r > 6 * 4  # the hidden units are above ReLU6's ceiling


def test_synflow_ignores_batchnorm_and_the_batch() -> None:
    """BatchNorm is removed (Abdelfattah et al.'s bn=False) and the input is all ones."""
    net = TinyNet()
    with torch.no_grad():
        net.bn.weight.fill_(5.0)
    plain = TinyNet()
    plain.load_state_dict(net.state_dict())
    plain.bn = nn.Identity()  # type: ignore[assignment]
    x, _ = _batch()
    got = compute_proxy("synflow", net, x, None)
    assert got == compute_proxy("synflow", net, -x, None)
    assert got == pytest.approx(compute_proxy("synflow", plain, x, None), rel=1e-12)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
def test_naswot_by_hand(act: type[nn.Module]) -> None:
    """Codes (1, 0) and (1, 1): K = [[2, 1], [1, 2]] (units agreeing), log det = log 3; a
    second activation layer with the same codes doubles K: log det = log 12."""
    x = torch.tensor([[1.0, -1.0], [1.0, 1.0]]).reshape(2, 1, 1, 2)
    assert compute_proxy("naswot", nn.Sequential(act()), x, None) == pytest.approx(math.log(3))
    two = nn.Sequential(act(), act())
    assert compute_proxy("naswot", two, x, None) == pytest.approx(math.log(12))


def test_jacob_cov_of_a_linear_map() -> None:
    """A linear network has the same input gradient for every image: all correlations are 1,
    eigenvalues (B, 0, ..., 0)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    k = 1e-5
    want = -(math.log(4 + k) + 1 / (4 + k) + 3 * (math.log(k) + 1 / k))
    assert compute_proxy("jacob_cov", net, x, None) == pytest.approx(want, rel=1e-6)


def test_snip_and_grad_norm_by_hand() -> None:
    """One linear layer, softmax cross-entropy: dL/dW = (p - onehot) x' / B."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2, bias=False))
    x, y = _batch(b=4, hw=1)
    w = net[1].weight.detach()
    p = torch.softmax(x.flatten(1) @ w.t(), dim=1)
    grad = (p - nn.functional.one_hot(y, 2)).t() @ x.flatten(1) / 4
    assert compute_proxy("snip", net, x, y) == pytest.approx(float((w * grad).abs().sum()))
    assert compute_proxy("grad_norm", net, x, y) == pytest.approx(float(grad.norm()))


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_every_proxy_is_deterministic_and_leaves_the_network_alone(name: str, tiny_space) -> None:
    net = _subnet(tiny_space)
    x, y = _tiny_batch(tiny_space)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = compute_proxy(name, net, x, y, seed=0)
    with torch.no_grad():  # a caller's grad mode does not matter
        second = compute_proxy(name, net, x, y, seed=0)
    assert math.isfinite(first)
    assert first == second
    assert not net.training
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), name
    assert PROXIES[name].paper


def test_zen_depends_on_its_seed_only(tiny_space) -> None:
    net = _subnet(tiny_space)
    shape = (4, 3, tiny_space.train_resolution, tiny_space.train_resolution)
    a = compute_proxy("zen", net, None, None, seed=0, input_shape=shape)
    assert a == compute_proxy("zen", _subnet(tiny_space), None, None, seed=0, input_shape=shape)
    assert a != compute_proxy("zen", net, None, None, seed=1, input_shape=shape)


def test_default_init_is_seeded(tiny_space) -> None:
    a, b, c = _subnet(tiny_space, 0), _subnet(tiny_space, 0), _subnet(tiny_space, 1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].dtype.is_floating_point)


def test_bad_calls_are_one_line() -> None:
    net = TinyNet()
    x, y = _batch()
    with pytest.raises(
        OptionError, match=r"^unknown zero-cost proxy 'synflw'; known proxies: "
    ) as e:
        compute_proxy("synflw", net, x, y)
    assert "\n" not in str(e.value)
    with pytest.raises(OptionError, match="needs a batch of images"):
        compute_proxy("naswot", net, None, None, input_shape=(2, 3, 5, 5))
    with pytest.raises(OptionError, match="needs the batch's labels"):
        compute_proxy("snip", net, x, None)
    with pytest.raises(OptionError, match=r"needs an input of shape \(B, C, H, W\)"):
        compute_proxy("synflow", net, None, None)
