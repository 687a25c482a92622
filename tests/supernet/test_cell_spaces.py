"""Supernets of the nb201, darts and resnet spaces: exact extraction, fresh subnets, DARTS mode."""

from __future__ import annotations

import random

import pytest
import torch

from nas.spaces import load_space
from nas.supernet import create_subnet, create_supernet
from tests.supernet.test_extract import _perturbed_supernet

NEW_SPACES = ["nb201", "darts", "resnet"]


def _archs(space, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    archs = [space.sample(rng) for _ in range(n)]
    if hasattr(space, "largest"):
        archs += [space.largest(), space.smallest()]
    return archs


@pytest.mark.parametrize("space_name", NEW_SPACES)
def test_extracted_equals_supernet_path(space_name: str) -> None:
    space = load_space(space_name)
    net = _perturbed_supernet(space)
    x = torch.randn(3, 3, 16, 16)  # (B, C, H, W)
    n_all = sum(p.numel() for p in net.parameters())
    for arch in _archs(space, 5):
        sub = net.extract(arch).eval()
        with torch.no_grad():
            expected = net(x, arch)
            got = sub(x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        assert sum(p.numel() for p in sub.parameters()) < n_all
        # the same structure as a freshly built subnet: weights load one to one
        fresh = create_subnet(space, arch, 10)
        fresh.load_state_dict(sub.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(fresh.eval()(x), got)


def test_nb201_extraction_drops_none_edges_but_keeps_zero_nodes() -> None:
    space = load_space("nb201")
    net = _perturbed_supernet(space)
    # node 1 has only a none edge, and node 3 reads it through a conv: conv(BN) of zeros is not
    # zero, so the static cell must still feed zeros through that conv.
    text = "|none~0|+|skip_connect~0|none~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    arch = space.parse(text)
    sub = net.extract(arch).eval()
    cell = sub.body[0]
    assert sorted(cell.edges) == ["edge20", "edge31", "edge32"]
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(sub(x), net(x, arch), rtol=1e-5, atol=1e-5)


def test_darts_equal_cells_build_the_same_network() -> None:
    space = load_space("darts")
    arch = space.sample(random.Random(3))
    text = space.describe(arch)
    # swap the two (input, op) pairs of every node: the same cell, the same architecture
    swapped = []
    for part in text.split(" | "):
        name, _, body = part.partition(": ")
        nodes = [" ".join(reversed(n.split())) for n in body.split(" + ")]
        swapped.append(f"{name}: " + " + ".join(nodes))
    other = space.parse(" | ".join(swapped))
    assert other == arch and space.hash(other) == space.hash(arch)


def _one_hot(space, arch) -> dict[str, torch.Tensor]:
    """DARTS weights that select exactly ``arch``: its op on chosen edges, ``none`` elsewhere."""
    weights = {}
    for key, ops in space.mixed_edges():
        w = torch.zeros(len(ops))
        if space.kind == "nb201":
            w[ops.index(arch[key])] = 1.0
        else:
            cell, node, src = key.split(".")
            j = int(src[len("from") :])
            a, b = (int(v) for v in str(arch[f"{cell}.{node}.inputs"]).split(","))
            op = arch[f"{cell}.{node}.op0"] if j == a else arch[f"{cell}.{node}.op1"]
            w[ops.index(op if j in (a, b) else "none")] = 1.0
        weights[key] = w
    return weights


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_weighted_forward_with_one_hot_weights_is_the_single_path(space_name: str) -> None:
    space = load_space(space_name)
    net = _perturbed_supernet(space)
    x = torch.randn(2, 3, 16, 16)
    arch = space.sample(random.Random(1))
    with torch.no_grad():
        got = net.forward_weighted(x, _one_hot(space, arch))
        torch.testing.assert_close(got, net(x, arch), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_derive_recovers_the_architecture_the_weights_favour(space_name: str) -> None:
    space = load_space(space_name)
    rng = random.Random(2)
    for _ in range(5):
        arch = space.sample(rng)
        if space_name == "darts":  # DARTS never derives ``none``
            arch = {k: "sep_conv_3x3" if v == "none" else v for k, v in arch.items()}
        weights = {k: (0.5 * v + 0.05).tolist() for k, v in _one_hot(space, arch).items()}
        assert space.derive(weights) == arch


def test_resnet_largest_has_more_parameters_than_smallest() -> None:
    space = load_space("resnet")
    net = create_supernet(space, 10)
    big = sum(p.numel() for p in net.extract(space.largest()).parameters())
    small = sum(p.numel() for p in net.extract(space.smallest()).parameters())
    assert big > 3 * small
