"""The chain network (stem, MBConv stages, head) in its elastic (supernet) and static forms.

Depth is elastic in the Once-for-All way: a stage with depth ``d`` runs its first ``d`` layers
and skips the rest; an elastic-width stage runs the first ``w`` output channels of its blocks,
and the head reads the first channels of its input. :func:`build_chain_net` builds a static
network from a space and an architecture alone (used by ``nas.load``);
:meth:`ChainSupernet.extract` builds the same network with the supernet's weights copied in.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from nas.spaces import ChainSpace
from nas.spaces.base import Value
from nas.supernet.base import Supernet
from nas.supernet.mbconv import ACTIVATIONS, ElasticMBConv, MBConv, Shortcut, conv_bn

Layers = list[list[dict[str, int]]]


class ChainEnds(nn.Module):
    """Stem, fixed first block and head: shared unchanged by every path."""

    def __init__(self, space: ChainSpace, num_classes: int, last: int | None = None) -> None:
        """``last``: the width of the last stage's output (default: its widest)."""
        super().__init__()
        m = space.model
        act = ACTIVATIONS[space.activation][0]
        self._act = ACTIVATIONS[space.activation][1]
        self.stem = nn.Sequential(
            *conv_bn(space.input_channels, m.stem.channels, m.stem.kernel, space.stem_stride),
            act(inplace=True),
        )
        ch = m.stem.channels
        if m.first_block_channels:
            self.first: nn.Module = MBConv(
                ch, m.first_block_channels, 1, 3, 1, use_expand=False, activation=space.activation
            )
            ch = m.first_block_channels
        else:
            self.first = nn.Identity()
        self.stage_in = ch
        last = space.stages[-1].channels if last is None else last
        head = m.head_channels
        self.head = (
            nn.Sequential(*conv_bn(last, head, 1, 1), act(inplace=True)) if head else nn.Identity()
        )
        self.classifier = nn.Linear(head or last, num_classes)

    def begin(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C, H/2, W/2)
        return self.first(self.stem(x))

    def end(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (B, classes)
        return self.classifier(self.head(x).mean(dim=(2, 3)))

    def elastic_end(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`end` for an input narrower than the widest (the first channels' weights)."""
        c = x.shape[1]
        if isinstance(self.head, nn.Sequential):
            conv, bn = self.head[0], self.head[1]
            assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
            x = self._act(bn(F.conv2d(x, conv.weight[:, :c])))
            return self.classifier(x.mean(dim=(2, 3)))
        return F.linear(x.mean(dim=(2, 3)), self.classifier.weight[:, :c], self.classifier.bias)

    @torch.no_grad()
    def narrowed(self, last: int) -> ChainEnds:
        """A copy whose head (or classifier) takes ``last`` input channels: the first ones."""
        ends = copy.deepcopy(self)
        if isinstance(ends.head, nn.Sequential):
            conv = ends.head[0]
            assert isinstance(conv, nn.Conv2d)
            new = nn.Conv2d(last, conv.out_channels, 1, bias=False)
            new.weight.copy_(conv.weight[:, :last])
            ends.head[0] = new
        else:
            lin = nn.Linear(last, ends.classifier.out_features)
            lin.weight.copy_(ends.classifier.weight[:, :last])
            lin.bias.copy_(ends.classifier.bias)
            ends.classifier = lin
        return ends


class ChainNet(nn.Module):
    """A static chain network: only the chosen blocks, ordinary layers."""

    def __init__(self, ends: ChainEnds, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.ends = ends
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ends.end(self.blocks(self.ends.begin(x)))


def build_chain_net(space: ChainSpace, arch: Mapping[str, Value], num_classes: int) -> ChainNet:
    """A freshly initialised static network for ``arch`` (no supernet needed)."""
    widths = space.widths(arch)
    ends = ChainEnds(space, num_classes, last=widths[-1])
    blocks: list[nn.Module] = []
    ch = ends.stage_in
    for stage, width, layers in zip(space.stages, widths, space.layers(arch), strict=True):
        for j, layer in enumerate(layers):
            stride = stage.stride if j == 0 else 1
            blocks.append(
                MBConv(
                    ch,
                    width,
                    stride,
                    layer["kernel"],
                    layer["expand"],
                    activation=space.activation,
                )
                if layer
                else Shortcut(ch, width, stride)  # an identity layer ({}: no block)
            )
            ch = width
    return ChainNet(ends, blocks)


class ChainSupernet(Supernet):
    """Weight-sharing supernet of a chain space with ``mbconv`` blocks."""

    def __init__(self, space: ChainSpace, num_classes: int) -> None:
        super().__init__(space, num_classes)
        self.chain_space = space
        self.ends = ChainEnds(space, num_classes)
        if space.ops is not None:
            mbconvs = [d for d in space.ops.values() if d]
            max_kernel = max((d["kernel"] for d in mbconvs), default=1)
            max_expand = max((d["expand"] for d in mbconvs), default=1)
        else:
            max_kernel = max(space.layer_options["kernel"])  # type: ignore[type-var,assignment]
            max_expand = max(space.layer_options["expand"])  # type: ignore[type-var,assignment]
        # identity layers (layer_ops spaces, one width per stage: nothing to slice); none are
        # built otherwise, so other spaces draw the same initial weights as before
        has_identity = space.ops is not None and {} in space.ops.values()
        stages, shortcuts = [], []
        ch = self.ends.stage_in
        for stage in space.stages:
            layers, skips = [], []
            for j in range(stage.max_depth):
                stride = stage.stride if j == 0 else 1
                layers.append(
                    ElasticMBConv(
                        ch, stage.channels, stride, max_kernel, max_expand, space.activation
                    )
                )
                if has_identity:
                    skips.append(Shortcut(ch, stage.channels, stride))
                ch = stage.channels
            stages.append(nn.ModuleList(layers))
            shortcuts.append(nn.ModuleList(skips))
        self.stages = nn.ModuleList(stages)
        self.shortcuts = nn.ModuleList(shortcuts) if has_identity else None

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        space = self.chain_space
        h = self.ends.begin(x)
        for i, (width, layers) in enumerate(
            zip(space.widths(arch), space.layers(arch), strict=True)
        ):
            for j, layer in enumerate(layers):
                if layer:
                    h = self._block(i, j)(h, layer["kernel"], layer["expand"], width)
                else:  # an identity layer
                    h = self._skip(i, j)(h)
        return self.ends.elastic_end(h)

    def _block(self, stage: int, layer: int) -> ElasticMBConv:
        return self.stages[stage][layer]  # type: ignore[index,no-any-return]

    def _skip(self, stage: int, layer: int) -> nn.Module:
        assert self.shortcuts is not None, "an identity layer in a space without identity"
        return self.shortcuts[stage][layer]  # type: ignore[index,no-any-return]

    @torch.no_grad()
    def extract(self, arch: Mapping[str, Value]) -> ChainNet:
        space = self.chain_space
        widths = space.widths(arch)
        blocks: list[nn.Module] = []
        ch = self.ends.stage_in
        for i, (width, layers) in enumerate(zip(widths, space.layers(arch), strict=True)):
            for j, layer in enumerate(layers):
                blocks.append(
                    self._block(i, j).extract(layer["kernel"], layer["expand"], ch, width)
                    if layer
                    else copy.deepcopy(self._skip(i, j))
                )
                ch = width
        net = ChainNet(self.ends.narrowed(widths[-1]), blocks)
        return net.train(self.training)
