"""Structured channel pruning of chain networks by rebuilding their layers smaller.

Which channels are free: inside an MBConv block the hidden channels (expand conv output ->
depthwise conv -> project conv input) are used only by that block, and the head conv's
output channels only by the classifier. Removing some of them changes no tensor that a
residual addition sees. The block outputs (project convs), the stem and the fixed first block
feed residual additions or each other and are never pruned. So the pruned network is the same
network with narrower hidden layers, described by one number per pruned layer (its *width*).

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
from typing import cast

import torch
from torch import nn

from nas.errors import OptionError
from nas.supernet.chain import ChainNet
from nas.supernet.mbconv import MBConv

HEAD = "head"


def _chain(net: nn.Module) -> ChainNet:
    if not isinstance(net, ChainNet):
        raise OptionError(f"pruning supports chain networks only, got {type(net).__name__}")
    return net


def prunable(net: nn.Module) -> dict[str, nn.Conv2d]:
    """The convs whose output channels may be removed, by width name (``blocks.3``, ``head``)."""
    chain = _chain(net)
    out: dict[str, nn.Conv2d] = {}
    for i, block in enumerate(chain.blocks):
        assert isinstance(block, MBConv)
        if isinstance(block.expand, nn.Sequential):
            out[f"blocks.{i}"] = cast(nn.Conv2d, block.expand[0])
    if isinstance(chain.ends.head, nn.Sequential):
        out[HEAD] = cast(nn.Conv2d, chain.ends.head[0])
    return out


def widths(net: nn.Module) -> dict[str, int]:
    """Current width (output channels) of every prunable layer."""
    return {name: conv.out_channels for name, conv in prunable(net).items()}


def _conv_like(conv: nn.Conv2d, in_ch: int, out_ch: int) -> nn.Conv2d:
    groups = out_ch if conv.groups > 1 else 1  # depthwise stays depthwise
    return nn.Conv2d(
        in_ch,
        out_ch,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        groups=groups,
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
def _shrink_block(block: MBConv, idx: torch.Tensor) -> None:
    """Keep hidden channels ``idx`` of ``block`` in place (expand out, dw, project in)."""
    assert isinstance(block.expand, nn.Sequential)
    k = len(idx)
    exp = cast(nn.Conv2d, block.expand[0])
    dw = cast(nn.Conv2d, block.depthwise[0])
    proj = cast(nn.Conv2d, block.project[0])
    exp_bn = cast(nn.BatchNorm2d, block.expand[1])
    dw_bn = cast(nn.BatchNorm2d, block.depthwise[1])
    new_exp = _conv_like(exp, exp.in_channels, k)
    new_exp.weight.copy_(exp.weight[idx])
    new_dw = _conv_like(dw, k, k)
    new_dw.weight.copy_(dw.weight[idx])
    new_proj = _conv_like(proj, k, proj.out_channels)
    new_proj.weight.copy_(proj.weight[:, idx])
    block.expand[0], block.expand[1] = new_exp, _take_bn(exp_bn, idx)
    block.depthwise[0], block.depthwise[1] = new_dw, _take_bn(dw_bn, idx)
    block.project[0] = new_proj


@torch.no_grad()
def _shrink_head(net: ChainNet, idx: torch.Tensor) -> None:
    head, fc = net.ends.head, net.ends.classifier
    assert isinstance(head, nn.Sequential)
    conv = cast(nn.Conv2d, head[0])
    new_conv = _conv_like(conv, conv.in_channels, len(idx))
    new_conv.weight.copy_(conv.weight[idx])
    new_fc = nn.Linear(len(idx), fc.out_features, bias=fc.bias is not None)
    new_fc.weight.copy_(fc.weight[:, idx])
    if fc.bias is not None:
        new_fc.bias.copy_(fc.bias)
    head[0], head[1] = new_conv, _take_bn(cast(nn.BatchNorm2d, head[1]), idx)
    net.ends.classifier = new_fc


def _apply(net: ChainNet, keep: dict[str, torch.Tensor]) -> None:
    for name, idx in keep.items():
        if name == HEAD:
            _shrink_head(net, idx)
        else:
            block = net.blocks[int(name.split(".")[1])]
            assert isinstance(block, MBConv)
            _shrink_block(block, idx)


def importance(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    """Per output channel: L1 norm of the filter scaled by the BatchNorm that follows."""
    assert bn.running_var is not None
    scale = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight.detach().abs().flatten(1).sum(dim=1) * scale


def prune(net: nn.Module, ratio: float) -> ChainNet:
    """A copy of ``net`` with ``ratio`` of every prunable layer's channels removed.

    Each layer keeps ``max(1, round(width * (1 - ratio)))`` channels, the most important
    ones, in their original order.

    Raises:
        OptionError: ``ratio`` outside [0, 1), or not a chain network.
    """
    if not 0.0 <= ratio < 1.0:
        raise OptionError(f"--prune must be in [0, 1), got {ratio}")
    chain = copy.deepcopy(_chain(net))
    keep: dict[str, torch.Tensor] = {}
    for name, conv in prunable(chain).items():
        if name == HEAD:
            assert isinstance(chain.ends.head, nn.Sequential)
            bn = cast(nn.BatchNorm2d, chain.ends.head[1])
        else:
            block = chain.blocks[int(name.split(".")[1])]
            assert isinstance(block, MBConv) and isinstance(block.expand, nn.Sequential)
            bn = cast(nn.BatchNorm2d, block.expand[1])
        n = max(1, round(conv.out_channels * (1.0 - ratio)))
        score = importance(conv, bn)
        # stable sort: equal scores keep the lower index, so the choice is deterministic
        top = torch.sort(torch.argsort(score, descending=True, stable=True)[:n]).values
        keep[name] = top
    _apply(chain, keep)
    return chain


def resize(net: nn.Module, target: dict[str, int]) -> ChainNet:
    """Shrink ``net`` in place to the widths ``target`` (weights to be loaded afterwards).

    Raises:
        OptionError: a width name the network does not have, or a width larger than it.
    """
    chain = _chain(net)
    current = widths(chain)
    keep: dict[str, torch.Tensor] = {}
    for name, n in target.items():
        if name not in current or not 1 <= int(n) <= current[name]:
            raise OptionError(
                f"width {name}={n} does not fit the architecture (widths: {current})"
            )
        if int(n) < current[name]:
            keep[name] = torch.arange(int(n))
    _apply(chain, keep)
    return chain
