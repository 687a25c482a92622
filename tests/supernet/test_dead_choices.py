"""No dead choices: at the resolution candidates are scored at, every value of every searched
choice changes the network's function (issue 11).

A choice whose alternatives compute the same function (a 7x7 kernel on a 2x2 map sees only
zero padding beyond its 3x3 centre) moves latency and not accuracy, so a search cannot weigh
it. These tests loop over every built-in space (and the test spaces), so a new space file is
checked the moment it is added.
"""

from __future__ import annotations

import random

import pytest
import torch

from nas.spaces import builtin_names, load_space
from nas.spaces.base import Space
from nas.supernet import create_supernet
from tests.conftest import TINY

SPACES = [*builtin_names(), str(TINY)]
# Spaces whose every architecture reads every active choice. In cell spaces a choice can be
# unused for topological reasons that no resolution fixes (a node whose edges are all 'none';
# a DARTS normal cell that never reads the previous cell, which cuts every reduction cell
# off); there the block-level test below checks every edge's operations instead.
GLOBAL_KINDS = ("chain", "resnet")


def _randomised(space: Space) -> torch.nn.Module:
    """A supernet with random weights and random BatchNorm statistics, in eval mode, in
    float64 (so a real difference is never lost in rounding and no difference is invented)."""
    torch.manual_seed(0)
    net = create_supernet(space, 10).double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)  # type: ignore[union-attr]
                m.running_var.uniform_(0.5, 2.0)  # type: ignore[union-attr]
                if m.affine:  # DARTS uses affine-free BatchNorm in its operations
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
    return net.eval()


def _scoring_batch(space: Space) -> torch.Tensor:
    _, c, h, w = space.scoring_input.shape
    return torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((a - b).abs().max() > 1e-9 * (1.0 + a.abs().max()))


@pytest.mark.parametrize("name", SPACES, ids=lambda n: n.rsplit("/", 1)[-1])
def test_every_alternative_of_every_choice_changes_the_network(name: str) -> None:
    space = load_space(name)
    if space.kind not in GLOBAL_KINDS:
        pytest.skip(f"{space.kind}: a cell space, checked edge by edge")
    net = _randomised(space)
    x = _scoring_batch(space)
    rng = random.Random(0)
    bases = [space.sample(rng) for _ in range(2)]
    if hasattr(space, "largest"):  # every layer active: every per-layer label is reached
        bases.insert(0, space.largest())
    dead: list[str] = []
    with torch.no_grad():
        for base in bases:
            params = space.to_params(base)
            ref = net(x, space.canonical(params))
            for label in space.active_labels(params):
                for value in space.choice(label).options:
                    if value == params[label]:
                        continue
                    other = space.canonical({**params, label: value})
                    if not _differs(ref, net(x, other)):
                        dead.append(f"{label}: {params[label]!r} -> {value!r}")
    assert not dead, f"{space.name}: choices that change nothing at {x.shape[2]}px: {dead[:8]}"


CELL_SPACES = [n for n in builtin_names() if load_space(n).kind not in GLOBAL_KINDS]


@pytest.mark.parametrize("name", CELL_SPACES)
def test_every_operation_of_every_edge_changes_its_output(name: str) -> None:
    """Edge by edge: feed each mixed operation the input it receives at the scoring
    resolution (the continuous relaxation runs every edge) and compare all its operations."""
    from nas.supernet.mixed import CellSupernet

    space = load_space(name)
    net = _randomised(space)
    assert isinstance(net, CellSupernet)
    edges = net.mixed_ops()
    inputs: dict[int, torch.Tensor] = {}
    for i, (_, op) in enumerate(edges):  # record each edge's input as the relaxation runs it

        def record(x, w, i=i, run=op.forward_weighted):  # type: ignore[no-untyped-def]
            inputs.setdefault(i, x)
            return run(x, w)

        op.forward_weighted = record  # type: ignore[method-assign]
    n_ops = {key: len(op.names) for key, op in edges}
    with torch.no_grad():
        weights = {k: torch.full((n,), 0.5, dtype=torch.float64) for k, n in n_ops.items()}
        net.forward_weighted(_scoring_batch(space), weights)
    assert len(inputs) == len(edges)
    with torch.no_grad():
        for i, (key, op) in enumerate(edges):
            x = inputs[i]
            outs = {name: op(x, name) for name in op.names}
            for a in op.names:
                for b in op.names:
                    if a < b:
                        assert _differs(outs[a], outs[b]), (
                            f"{key} on a {x.shape[2]}x{x.shape[3]} map: {a} and {b} agree"
                        )


def _chain_blocks(net: torch.nn.Module) -> list[torch.nn.Module]:
    from nas.supernet.mbconv import ElasticMBConv

    return [m for m in net.modules() if isinstance(m, ElasticMBConv)]


@pytest.mark.parametrize("name", ["mobile", str(TINY)], ids=["mobile", "tiny"])
def test_chain_blocks_see_every_kernel_and_expansion_on_their_real_input(name: str) -> None:
    """Block by block: feed each elastic MBConv the input it receives at the scoring
    resolution (the largest path) and switch its kernel and expansion."""
    space = load_space(name)
    net = _randomised(space)
    inputs: dict[int, torch.Tensor] = {}
    blocks = _chain_blocks(net)
    hooks = [
        b.register_forward_pre_hook(lambda m, a, i=i: inputs.__setitem__(i, a[0]))
        for i, b in enumerate(blocks)
    ]
    with torch.no_grad():
        net(_scoring_batch(space), space.largest())
    for h in hooks:
        h.remove()
    assert len(inputs) == len(blocks)
    kernels = space.model.layer_choices["kernel"]
    expands = space.model.layer_choices["expand"]
    with torch.no_grad():
        for i, block in enumerate(blocks):
            x = inputs[i]
            outs = {(k, e): block(x, k, e) for k in kernels for e in expands}
            for (k, e), y in outs.items():
                for (k2, e2), y2 in outs.items():
                    if (k, e) < (k2, e2):
                        assert _differs(y, y2), (
                            f"block {i} on a {x.shape[2]}x{x.shape[3]} map: k{k}e{e} and "
                            f"k{k2}e{e2} give the same output"
                        )


def test_the_old_16px_mobile_had_dead_kernels() -> None:
    """The check can fail: the first mobile space scored at 16x16 with its full-size strides
    (maps down to 1x1), where most kernel choices were dead."""
    from nas.spaces.loader import space_from_dict

    raw = load_space("mobile").model.model_dump(exclude_none=True)
    raw["train_resolution"] = 16
    space = space_from_dict(raw)
    # the adaptation keeps a 4x4 last map; forcing the full-size strides reproduces the bug
    space.stem_stride = 2
    space.stages = tuple(
        type(s)(s.width_options, st, s.depth_options)
        for s, st in zip(space.stages, [2, 2, 2, 1], strict=True)
    )
    net = _randomised(space)
    x = _scoring_batch(space)
    base = space.largest()
    with torch.no_grad():
        ref = net(x, base)
        dead = [
            label
            for label in space.active_labels(base)
            if label.endswith(".kernel") and not _differs(ref, net(x, {**base, label: 3}))
        ]
    assert len(dead) >= 3
