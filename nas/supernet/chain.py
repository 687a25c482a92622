"""The chain network (stem, MBConv stages, head) in its elastic (supernet) and static forms.

Depth is elastic in the Once-for-All way: a stage with depth ``d`` runs its first ``d`` layers
and skips the rest; an elastic-width stage runs the first ``w`` output channels of its blocks,
and the head reads the first channels of its input. :func:`build_chain_net` builds a static
network from a space and an architecture alone (used by ``nas.load``);
:meth:`ChainSupernet.extract` builds the same network with the supernet's weights copied in.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from nas.spaces import ChainSpace
from nas.spaces.base import Value
from nas.supernet.base import Supernet
from nas.supernet.mbconv import ElasticMBConv, MBConv, conv_bn

Layers = list[list[dict[str, int]]]


class ChainEnds(nn.Module):
    """Stem, fixed first block and head: shared unchanged by every path."""

    def __init__(self, space: ChainSpace, num_classes: int, last: int | None = None) -> None:
        """``last``: the width of the last stage's output (default: its widest)."""
        super().__init__()
        m = space.model
        self.stem = nn.Sequential(
            *conv_bn(space.input_channels, m.stem.channels, m.stem.kernel, space.stem_stride),
            nn.ReLU6(inplace=True),
        )
        ch = m.stem.channels
        if m.first_block_channels:
            self.first: nn.Module = MBConv(ch, m.first_block_channels, 1, 3, 1, use_expand=False)
            ch = m.first_block_channels
        else:
            self.first = nn.Identity()
        self.stage_in = ch
        last = space.stages[-1].channels if last is None else last
        head = m.head_channels
        self.head = (
            nn.Sequential(*conv_bn(last, head, 1, 1), nn.ReLU6(inplace=True))
            if head
            else nn.Identity()
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
            x = F.relu6(bn(F.conv2d(x, conv.weight[:, :c])))
            return self.classifier(x.mean(dim=(2, 3)))
        return F.linear(x.mean(dim=(2, 3)), self.classifier.weight[:, :c], self.classifier.bias)

    @torch.no_grad()
    def narrowed(self, last: int) -> ChainEnds:
        """A copy whose head (or classifier) takes ``last`` input channels: the first ones."""
        import copy

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

    def __init__(self, ends: ChainEnds, blocks: list[MBConv]) -> None:
        super().__init__()
        self.ends = ends
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ends.end(self.blocks(self.ends.begin(x)))


def build_chain_net(space: ChainSpace, arch: Mapping[str, Value], num_classes: int) -> ChainNet:
    """A freshly initialised static network for ``arch`` (no supernet needed)."""
    widths = space.widths(arch)
    ends = ChainEnds(space, num_classes, last=widths[-1])
    blocks: list[MBConv] = []
    ch = ends.stage_in
    for stage, width, layers in zip(space.stages, widths, space.layers(arch), strict=True):
        for j, layer in enumerate(layers):
            stride = stage.stride if j == 0 else 1
            blocks.append(MBConv(ch, width, stride, layer["kernel"], layer["expand"]))
            ch = width
    return ChainNet(ends, blocks)


class ChainSupernet(Supernet):
    """Weight-sharing supernet of a chain space with ``mbconv`` blocks."""

    def __init__(self, space: ChainSpace, num_classes: int) -> None:
        super().__init__(space, num_classes)
        self.chain_space = space
        self.ends = ChainEnds(space, num_classes)
        max_kernel = max(space.model.layer_choices["kernel"])
        max_expand = max(space.model.layer_choices["expand"])
        stages = []
        ch = self.ends.stage_in
        for stage in space.stages:
            layers = []
            for j in range(stage.max_depth):
                stride = stage.stride if j == 0 else 1
                layers.append(ElasticMBConv(ch, stage.channels, stride, max_kernel, max_expand))
                ch = stage.channels
            stages.append(nn.ModuleList(layers))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        space = self.chain_space
        h = self.ends.begin(x)
        for stage, width, layers in zip(
            self.stages, space.widths(arch), space.layers(arch), strict=True
        ):
            for block, layer in zip(stage, layers, strict=False):  # type: ignore[call-overload]
                h = block(h, layer["kernel"], layer["expand"], width)
        return self.ends.elastic_end(h)

    @torch.no_grad()
    def extract(self, arch: Mapping[str, Value]) -> ChainNet:
        space = self.chain_space
        widths = space.widths(arch)
        blocks: list[MBConv] = []
        ch = self.ends.stage_in
        for stage, width, layers in zip(self.stages, widths, space.layers(arch), strict=True):
            for block, layer in zip(stage, layers, strict=False):  # type: ignore[call-overload]
                blocks.append(block.extract(layer["kernel"], layer["expand"], ch, width))
                ch = width
        net = ChainNet(self.ends.narrowed(widths[-1]), blocks)
        return net.train(self.training)
