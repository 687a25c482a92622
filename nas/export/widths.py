"""Structured channel pruning by rebuilding layers smaller, for every network kind that has
channels used in one place only.

A *channel group* is the output channels of one conv (and its BatchNorm) that are read by one
consumer only: a conv's input channels or a linear layer's input columns, possibly through a
depthwise conv whose channels follow one to one. Removing some of them changes no tensor that
a residual addition or a cell node sees, so the pruned network is the same network with
narrower hidden layers, described by one number per group (its *width*):

- chain (MBConv) networks: each block's hidden channels (expand conv -> depthwise conv ->
  project conv), named ``blocks.N``, and the head conv's channels read by the classifier
  (``head``). Block outputs, the stem and the fixed first block feed residual additions;
- ResNet networks: the channels between the convs of a block (basic: conv 0 -> conv 1;
  bottleneck: 0 -> 1 -> 2), named ``blocks.N.convs.K``. Block outputs are added to the
  shortcut and are never pruned;
- cell networks (NAS-Bench-201, DARTS): none. Every edge of a cell adds into a node that the
  other edges, the next cell and the reduction blocks read, so no channel is used in one place
  only; :func:`why_not` says so, and ``nas compress`` still quantises them.

Why not a library: NNI's speed-up step fails on torch 2.13, and Torch-Pruning would be a new
dependency that traces the graph to rediscover exactly this coupling, which the architecture
already states. Rebuilding the layers keeps module names, so the pruned weights load into a
network built from ``architecture.json`` alone (:func:`resize`).

Channel importance is the L1 norm of each output filter after folding the following
BatchNorm's scale into it (|gamma| / sqrt(var + eps)): the magnitude criterion of Li et al.,
"Pruning Filters for Efficient ConvNets" (ICLR 2017), made scale-aware as in Liu et al.,
"Learning Efficient Convolutional Networks through Network Slimming" (ICCV 2017).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from nas.errors import OptionError

HEAD = "head"


@dataclass(frozen=True)
class Group:
    """Prunable channels: made by ``conv`` + ``bn``, followed one to one by the depthwise
    ``tied`` (conv, bn) pairs, read by ``consumer`` (module paths inside the network)."""

    name: str
    conv: str
    bn: str
    consumer: str
    tied: tuple[tuple[str, str], ...] = ()


def _chain_groups(net: nn.Module) -> list[Group]:
    from nas.supernet.chain import ChainNet
    from nas.supernet.mbconv import MBConv

    assert isinstance(net, ChainNet)
    out: list[Group] = []
    for i, block in enumerate(net.blocks):
        # an identity layer (a Shortcut) has no hidden channels of its own
        if isinstance(block, MBConv) and isinstance(block.expand, nn.Sequential):
            b = f"blocks.{i}"
            out.append(
                Group(
                    b,
                    f"{b}.expand.0",
                    f"{b}.expand.1",
                    f"{b}.project.0",
                    ((f"{b}.depthwise.0", f"{b}.depthwise.1"),),
                )
            )
    if isinstance(net.ends.head, nn.Sequential):
        out.append(Group(HEAD, "ends.head.0", "ends.head.1", "ends.classifier"))
    return out


def _resnet_groups(net: nn.Module) -> list[Group]:
    from nas.supernet.resnet import ResBlock, ResnetNet

    assert isinstance(net, ResnetNet)
    out: list[Group] = []
    for j, block in enumerate(net.blocks):
        assert isinstance(block, ResBlock)
        for k in range(len(block.convs) - 1):
            c = f"blocks.{j}.convs.{k}"
            out.append(Group(c, f"{c}.0", f"{c}.1", f"blocks.{j}.convs.{k + 1}.0"))
    return out


_CELLS = (
    "{kind} networks have no channels that can be removed on their own: every cell edge "
    "adds into a node that the other edges and the next cell read"
)


def _registry() -> dict[type, Callable[[nn.Module], list[Group]] | str]:
    """Network class -> its channel groups, or the reason it has none."""
    from nas.supernet.chain import ChainNet
    from nas.supernet.darts_cells import DartsNet
    from nas.supernet.nb201 import Nb201Net
    from nas.supernet.resnet import ResnetNet

    return {
        ChainNet: _chain_groups,
        ResnetNet: _resnet_groups,
        Nb201Net: _CELLS.format(kind="NAS-Bench-201 cell"),
        DartsNet: _CELLS.format(kind="DARTS cell"),
    }


def groups(net: nn.Module) -> list[Group]:
    """The prunable channel groups of ``net`` (empty for networks without any)."""
    entry = _registry().get(type(net))
    return entry(net) if callable(entry) else []


def why_not(net: nn.Module) -> str | None:
    """Why ``net`` has nothing to prune (None when it has channel groups)."""
    entry = _registry().get(type(net))
    if callable(entry):
        return None if entry(net) else "the network has no prunable layers"
    return entry or f"pruning does not know {type(net).__name__} networks"


def prunable(net: nn.Module) -> dict[str, nn.Conv2d]:
    """The convs whose output channels may be removed, by width name (``blocks.3``, ``head``)."""
    return {g.name: cast(nn.Conv2d, net.get_submodule(g.conv)) for g in groups(net)}


def widths(net: nn.Module) -> dict[str, int]:
    """Current width (output channels) of every prunable group."""
    return {name: conv.out_channels for name, conv in prunable(net).items()}


def _set(net: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, name, module)


def _conv_like(conv: nn.Conv2d, in_ch: int, out_ch: int) -> nn.Conv2d:
    groups_ = out_ch if conv.groups > 1 else 1  # depthwise stays depthwise
    return nn.Conv2d(
        in_ch,
        out_ch,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=groups_,
        bias=conv.bias is not None,
    )


@torch.no_grad()
def _take_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum)
    assert bn.running_mean is not None and bn.running_var is not None
    assert new.running_mean is not None and new.running_var is not None
    new.weight.copy_(bn.weight[idx])
    new.bias.copy_(bn.bias[idx])
    new.running_mean.copy_(bn.running_mean[idx])
    new.running_var.copy_(bn.running_var[idx])
    new.num_batches_tracked.copy_(bn.num_batches_tracked)  # type: ignore[operator,union-attr,arg-type]
    return new.train(bn.training)


@torch.no_grad()
def _shrink_out(conv: nn.Conv2d, idx: torch.Tensor, depthwise: bool = False) -> nn.Conv2d:
    k = len(idx)
    new = _conv_like(conv, k if depthwise else conv.in_channels, k)
    new.weight.copy_(conv.weight[idx])
    if conv.bias is not None:
        new.bias.copy_(conv.bias[idx])  # type: ignore[union-attr]
    return new


@torch.no_grad()
def _shrink_in(layer: nn.Module, idx: torch.Tensor) -> nn.Module:
    new: nn.Module
    if isinstance(layer, nn.Linear):
        new = nn.Linear(len(idx), layer.out_features, bias=layer.bias is not None)
    else:
        conv = cast(nn.Conv2d, layer)
        assert conv.groups == 1, "a consumer reads every input channel"
        new = _conv_like(conv, len(idx), conv.out_channels)
    new.weight.copy_(layer.weight[:, idx])  # type: ignore[index]
    if getattr(layer, "bias", None) is not None:
        new.bias.copy_(layer.bias)  # type: ignore[union-attr,arg-type]
    return new


def _apply(net: nn.Module, keep: dict[str, torch.Tensor]) -> None:
    """Keep channels ``keep[name]`` of each named group, in place (shapes change)."""
    for g in groups(net):
        if g.name not in keep:
            continue
        idx = keep[g.name]
        _set(net, g.conv, _shrink_out(cast(nn.Conv2d, net.get_submodule(g.conv)), idx))
        _set(net, g.bn, _take_bn(cast(nn.BatchNorm2d, net.get_submodule(g.bn)), idx))
        for conv, bn in g.tied:
            dw = cast(nn.Conv2d, net.get_submodule(conv))
            _set(net, conv, _shrink_out(dw, idx, depthwise=True))
            _set(net, bn, _take_bn(cast(nn.BatchNorm2d, net.get_submodule(bn)), idx))
        _set(net, g.consumer, _shrink_in(net.get_submodule(g.consumer), idx))


def importance(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    """Per output channel: L1 norm of the filter scaled by the BatchNorm that follows."""
    assert bn.running_var is not None
    scale = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight.detach().abs().flatten(1).sum(dim=1) * scale


def prune(net: nn.Module, ratio: float) -> nn.Module:
    """A copy of ``net`` with ``ratio`` of every prunable group's channels removed.

    Each group keeps ``max(1, round(width * (1 - ratio)))`` channels, the most important
    ones, in their original order. A network without groups comes back as an unchanged copy.

    Raises:
        OptionError: ``ratio`` outside [0, 1).
    """
    if not 0.0 <= ratio < 1.0:
        raise OptionError(f"--prune must be in [0, 1), got {ratio}")
    out = copy.deepcopy(net)
    keep: dict[str, torch.Tensor] = {}
    for g in groups(out):
        conv = cast(nn.Conv2d, out.get_submodule(g.conv))
        bn = cast(nn.BatchNorm2d, out.get_submodule(g.bn))
        n = max(1, round(conv.out_channels * (1.0 - ratio)))
        score = importance(conv, bn)
        # stable sort: equal scores keep the lower index, so the choice is deterministic
        keep[g.name] = torch.sort(torch.argsort(score, descending=True, stable=True)[:n]).values
    _apply(out, keep)
    return out


def resize(net: nn.Module, target: dict[str, int]) -> nn.Module:
    """Shrink ``net`` in place to the widths ``target`` (weights to be loaded afterwards).

    Raises:
        OptionError: a width name the network does not have, or a width larger than it.
    """
    current = widths(net)
    keep: dict[str, torch.Tensor] = {}
    for name, n in target.items():
        if name not in current or not 1 <= int(n) <= current[name]:
            raise OptionError(
                f"width {name}={n} does not fit the architecture (widths: {current})"
            )
        if int(n) < current[name]:
            keep[name] = torch.arange(int(n))
    _apply(net, keep)
    return net
