"""The ResNet space's elastic supernet and static network (Once-for-All-style slicing).

Every layer position of a stage holds one elastic basic block and one elastic bottleneck
block (separate weights: the two block types compute different things, so sharing would only
make them fight). Each elastic convolution keeps the largest weights and slices them: a smaller
width takes the *first* channels, a smaller kernel the *centre* taps, a shallower stage its
*first* blocks (Cai et al., "Once-for-All", ICLR 2020).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from nas.spaces import ResnetSpace
from nas.spaces.base import Value
from nas.spaces.resnet import BOTTLENECK_REDUCTION, ResnetStage
from nas.supernet.base import Supernet
from nas.supernet.mbconv import _bn, _copy_bn, conv_bn


class ElasticConvBN(nn.Module):
    """Conv (no bias) + BatchNorm whose input/output channels and kernel are sliced per call."""

    def __init__(self, max_in: int, max_out: int, max_kernel: int, stride: int) -> None:
        super().__init__()
        self.max_kernel, self.stride = max_kernel, stride
        self.conv = nn.Conv2d(max_in, max_out, max_kernel, stride, max_kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(max_out)

    def _weight(self, c_in: int, c_out: int, kernel: int) -> torch.Tensor:
        start = (self.max_kernel - kernel) // 2
        return self.conv.weight[:c_out, :c_in, start : start + kernel, start : start + kernel]

    def forward(self, x: torch.Tensor, c_out: int, kernel: int) -> torch.Tensor:
        w = self._weight(x.shape[1], c_out, kernel)
        return _bn(F.conv2d(x, w, None, self.stride, kernel // 2), self.bn, c_out)

    @torch.no_grad()
    def extract(self, c_in: int, c_out: int, kernel: int) -> nn.Sequential:
        out = conv_bn(c_in, c_out, kernel, self.stride)
        cast(nn.Conv2d, out[0]).weight.copy_(self._weight(c_in, c_out, kernel))
        _copy_bn(cast(nn.BatchNorm2d, out[1]), self.bn, c_out)
        return out


class ResBlock(nn.Module):
    """A static basic or bottleneck block; ``shortcut`` is a 1x1 projection or identity."""

    def __init__(
        self, kind: str, c_in: int, width: int, kernel: int, stride: int, project: bool
    ) -> None:
        super().__init__()
        if kind == "basic":
            convs = [conv_bn(c_in, width, kernel, stride), conv_bn(width, width, kernel, 1)]
        else:
            mid = width // BOTTLENECK_REDUCTION
            convs = [
                conv_bn(c_in, mid, 1, 1),
                conv_bn(mid, mid, kernel, stride),
                conv_bn(mid, width, 1, 1),
            ]
        self.convs = nn.ModuleList(convs)
        self.shortcut: nn.Module = conv_bn(c_in, width, 1, stride) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, W, H/s, W/s)
        h = x
        for k, conv in enumerate(self.convs):
            h = conv(h)
            if k < len(self.convs) - 1:
                h = F.relu(h)
        return F.relu(h + self.shortcut(x))


class ElasticResBlock(nn.Module):
    """One block type at one layer position, at its largest width and kernel."""

    def __init__(
        self, kind: str, max_in: int, max_width: int, max_kernel: int, stride: int, project: bool
    ) -> None:
        super().__init__()
        self.kind, self.stride = kind, stride
        if kind == "basic":
            specs = [
                (max_in, max_width, max_kernel, stride),
                (max_width, max_width, max_kernel, 1),
            ]
        else:
            mid = max_width // BOTTLENECK_REDUCTION
            specs = [(max_in, mid, 1, 1), (mid, mid, max_kernel, stride), (mid, max_width, 1, 1)]
        self.convs = nn.ModuleList(ElasticConvBN(*s) for s in specs)
        self.shortcut = ElasticConvBN(max_in, max_width, 1, stride) if project else None

    def _plan(self, width: int, kernel: int) -> list[tuple[int, int]]:
        """(out channels, kernel) of each conv for the active width and kernel."""
        if self.kind == "basic":
            return [(width, kernel), (width, kernel)]
        mid = width // BOTTLENECK_REDUCTION
        return [(mid, 1), (mid, kernel), (width, 1)]

    def forward(self, x: torch.Tensor, width: int, kernel: int) -> torch.Tensor:
        h = x
        plan = self._plan(width, kernel)
        for k, (conv, (c_out, k_size)) in enumerate(zip(self.convs, plan, strict=True)):
            h = conv(h, c_out, k_size)
            if k < len(plan) - 1:
                h = F.relu(h)
        skip = x if self.shortcut is None else self.shortcut(x, width, 1)
        return F.relu(h + skip)

    @torch.no_grad()
    def extract(self, c_in: int, width: int, kernel: int) -> ResBlock:
        block = ResBlock(self.kind, c_in, width, kernel, self.stride, self.shortcut is not None)
        c = c_in
        for k, (conv, (c_out, k_size)) in enumerate(
            zip(self.convs, self._plan(width, kernel), strict=True)
        ):
            block.convs[k] = cast(ElasticConvBN, conv).extract(c, c_out, k_size)
            c = c_out
        if self.shortcut is not None:
            block.shortcut = self.shortcut.extract(c_in, width, 1)
        return block


class _Stem(nn.Module):
    def __init__(self, space: ResnetSpace) -> None:
        super().__init__()
        c = space.model.stem.channels
        self.body = nn.Sequential(
            *conv_bn(space.input_channels, c, 3, space.model.stem.stride), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResnetNet(nn.Module):
    """A static ResNet: stem, the chosen blocks, pooling and classifier."""

    def __init__(self, stem: _Stem, blocks: list[ResBlock], classifier: nn.Linear) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def _project(j: int) -> bool:
    # The first block of every stage changes width (elastically) and maybe resolution, so it
    # always carries a projection shortcut; the others add their input unchanged.
    return j == 0


def build_resnet_net(space: ResnetSpace, arch: Mapping[str, Value], num_classes: int) -> ResnetNet:
    """A freshly initialised static network for ``arch``."""
    blocks: list[ResBlock] = []
    c = space.model.stem.channels
    stages: list[ResnetStage] = space.stages(arch)
    for st in stages:
        for j in range(st.depth):
            stride = st.stride if j == 0 else 1
            blocks.append(ResBlock(st.block, c, st.width, st.kernel, stride, _project(j)))
            c = st.width
    return ResnetNet(_Stem(space), blocks, nn.Linear(c, num_classes))


class ResnetSupernet(Supernet):
    """Elastic supernet of a ResNet space (depth, width, kernel; both block types)."""

    def __init__(self, space: ResnetSpace, num_classes: int) -> None:
        super().__init__(space, num_classes)
        self.resnet = space
        self.stem = _Stem(space)
        max_kernel = max(space.model.kernel)
        stages = []
        c = space.model.stem.channels
        for st in space.model.stages:
            width = max(st.width)
            layers = []
            for j in range(max(st.depth)):
                stride = st.stride if j == 0 else 1
                layers.append(
                    nn.ModuleDict(
                        {
                            kind: ElasticResBlock(kind, c, width, max_kernel, stride, _project(j))
                            for kind in space.model.block
                        }
                    )
                )
                c = width
            stages.append(nn.ModuleList(layers))
        self.stages = nn.ModuleList(stages)
        self.classifier = nn.Linear(c, num_classes)

    @staticmethod
    def _block(layers: nn.Module, j: int, kind: str) -> ElasticResBlock:
        return cast(ElasticResBlock, cast(nn.ModuleDict, cast(nn.ModuleList, layers)[j])[kind])

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        h = self.stem(x)
        for layers, st in zip(self.stages, self.resnet.stages(arch), strict=True):
            for j in range(st.depth):
                h = self._block(layers, j, st.block)(h, st.width, st.kernel)
        w = h.shape[1]
        return F.linear(h.mean(dim=(2, 3)), self.classifier.weight[:, :w], self.classifier.bias)

    @torch.no_grad()
    def extract(self, arch: Mapping[str, Value]) -> ResnetNet:
        blocks: list[ResBlock] = []
        c = self.resnet.model.stem.channels
        for layers, st in zip(self.stages, self.resnet.stages(arch), strict=True):
            for j in range(st.depth):
                blocks.append(self._block(layers, j, st.block).extract(c, st.width, st.kernel))
                c = st.width
        classifier = nn.Linear(c, self.num_classes)
        classifier.weight.copy_(self.classifier.weight[:, :c])
        classifier.bias.copy_(self.classifier.bias)
        net = ResnetNet(copy.deepcopy(self.stem), blocks, classifier)
        return net.train(self.training)
