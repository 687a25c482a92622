"""The DARTS search network (Liu et al., ICLR 2019) as a supernet and as a static net.

Operations and macro skeleton follow the paper's search model: a 3x3 conv stem of
``stem_multiplier * C`` channels, ``layers`` cells with reduction cells (stride 2, channels
doubled) at 1/3 and 2/3 of the depth, global pooling and a linear classifier. A cell
preprocesses its two inputs to C channels (a factorized reduction when the previous cell
reduced), each intermediate node sums operations on earlier nodes, and the cell outputs the
concatenation of its intermediate nodes. In a reduction cell the edges from the two cell
inputs have stride 2. Pooling operations are followed by a non-affine BatchNorm, as in the
paper's search model, so their scale matches the convolutions' in the mixture.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from nas.spaces import DartsSpace
from nas.spaces.base import Value
from nas.spaces.darts import CELL_TYPES
from nas.supernet.mixed import CellSupernet, MixedOp, Zero

NodeChoice = tuple[int, str, int, str]  # (input a, op on a, input b, op on b)


def relu_conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs, concatenated (DARTS)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/2, W/2)
        x = self.relu(x)
        # The shifted branch pads one row/column so odd sizes give matching shapes.
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def sep_conv(c: int, kernel: int, stride: int) -> nn.Sequential:
    """Two stacked ReLU - depthwise kxk - pointwise - BN units (the first one strided)."""
    pad = kernel // 2
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, kernel, stride, pad, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, kernel, 1, pad, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
    )


def dil_conv(c: int, kernel: int, stride: int) -> nn.Sequential:
    """ReLU - depthwise kxk with dilation 2 - pointwise - BN."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, kernel, stride, kernel - 1, dilation=2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
    )


def make_op(name: str, c: int, stride: int) -> nn.Module:
    """One DARTS operation at ``c`` channels in and out."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(c, affine=False))
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name.startswith("sep_conv_"):
        return sep_conv(c, int(name[-1]), stride)
    if name.startswith("dil_conv_"):
        return dil_conv(c, int(name[-1]), stride)
    raise ValueError(f"unknown DARTS operation {name!r}")


class _Preprocess(nn.Module):
    def __init__(self, c_pp: int, c_p: int, c: int, reduction_prev: bool) -> None:
        super().__init__()
        self.pre0: nn.Module = (
            FactorizedReduce(c_pp, c) if reduction_prev else relu_conv_bn(c_pp, c)
        )
        self.pre1 = relu_conv_bn(c_p, c)


class DartsCell(nn.Module):
    """A static cell: two chosen operations per intermediate node (``none`` ones dropped)."""

    def __init__(
        self, pre: _Preprocess, nodes: list[NodeChoice], ops: Mapping[str, nn.Module], stride: int
    ) -> None:
        super().__init__()
        self.pre = pre
        self.nodes = nodes
        self.ops = nn.ModuleDict(dict(ops))  # key "{node}_{input}"
        self.stride = stride

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre.pre0(s0), self.pre.pre1(s1)]
        for i, (a, _, b, _) in enumerate(self.nodes, start=2):
            terms = [self.ops[f"{i}_{j}"](states[j]) for j in (a, b) if f"{i}_{j}" in self.ops]
            if not terms:
                terms = [torch.zeros_like(states[1][:, :, :: self.stride, :: self.stride])]
            states.append(sum(terms[1:], terms[0]))
        return torch.cat(states[2:], dim=1)


class DartsMixedCell(nn.Module):
    """A cell with a :class:`MixedOp` on every edge ``j -> i`` (key ``"{i}_{j}"``)."""

    def __init__(self, space: DartsSpace, pre: _Preprocess, c: int, cell_type: str) -> None:
        super().__init__()
        self.cell_type = cell_type
        self.node_ids = space.node_ids
        self.pre = pre
        self.stride = 2 if cell_type == "reduce" else 1
        self.edges = nn.ModuleDict()
        for i in space.node_ids:
            for j in range(i):
                stride = self.stride if j < 2 else 1
                ops = {op: make_op(op, c, stride) for op in space.operations}
                self.edges[f"{i}_{j}"] = MixedOp(ops)

    def edge(self, key: str) -> MixedOp:
        return cast(MixedOp, self.edges[key])

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, nodes: list[NodeChoice]) -> torch.Tensor:
        states = [self.pre.pre0(s0), self.pre.pre1(s1)]
        for i, (a, op_a, b, op_b) in zip(self.node_ids, nodes, strict=True):
            states.append(
                self.edges[f"{i}_{a}"](states[a], op_a) + self.edges[f"{i}_{b}"](states[b], op_b)
            )
        return torch.cat(states[2:], dim=1)

    def forward_weighted(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        states = [self.pre.pre0(s0), self.pre.pre1(s1)]
        for i in self.node_ids:
            terms = [
                self.edge(f"{i}_{j}").forward_weighted(
                    states[j], weights[f"{self.cell_type}.node{i}.from{j}"]
                )
                for j in range(i)
            ]
            states.append(sum(terms[1:], terms[0]))
        return torch.cat(states[2:], dim=1)

    def extract(self, nodes: list[NodeChoice]) -> DartsCell:
        ops = {
            f"{i}_{j}": self.edge(f"{i}_{j}").extract(op)
            for i, (a, op_a, b, op_b) in zip(self.node_ids, nodes, strict=True)
            for j, op in ((a, op_a), (b, op_b))
            if op != "none"
        }
        return DartsCell(copy.deepcopy(self.pre), nodes, ops, self.stride)


def _layout(space: DartsSpace) -> list[tuple[str, int, int, int, bool]]:
    """Per cell: (type, C_prev_prev, C_prev, C, reduction_prev), as the paper's search model."""
    m = space.model
    c = m.init_channels
    c_pp = c_p = m.stem_multiplier * c
    reductions = {m.layers // 3, 2 * m.layers // 3}
    out = []
    reduction_prev = False
    for k in range(m.layers):
        reduction = k in reductions
        if reduction:
            c *= 2
        out.append(("reduce" if reduction else "normal", c_pp, c_p, c, reduction_prev))
        c_pp, c_p = c_p, m.nodes * c
        reduction_prev = reduction
    return out


class _Ends(nn.Module):
    def __init__(self, space: DartsSpace, num_classes: int) -> None:
        super().__init__()
        m = space.model
        c_stem = m.stem_multiplier * m.init_channels
        self.stem = nn.Sequential(
            nn.Conv2d(space.input_channels, c_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_stem),
        )
        c_last = m.nodes * _layout(space)[-1][3]
        self.classifier = nn.Linear(c_last, num_classes)

    def end(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (B, classes)
        return self.classifier(x.mean(dim=(2, 3)))


class DartsNet(nn.Module):
    """A static DARTS network."""

    def __init__(self, ends: _Ends, cells: list[DartsCell]) -> None:
        super().__init__()
        self.ends = ends
        self.cells = nn.ModuleList(cells)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.ends.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.ends.end(s1)


def build_darts_net(space: DartsSpace, arch: Mapping[str, Value], num_classes: int) -> DartsNet:
    """A freshly initialised static network for ``arch``."""
    cells = []
    for cell_type, c_pp, c_p, c, reduction_prev in _layout(space):
        nodes = space.cell(arch, cell_type)
        stride = 2 if cell_type == "reduce" else 1
        ops = {
            f"{i}_{j}": make_op(op, c, stride if j < 2 else 1)
            for i, (a, op_a, b, op_b) in zip(space.node_ids, nodes, strict=True)
            for j, op in ((a, op_a), (b, op_b))
            if op != "none"
        }
        cells.append(DartsCell(_Preprocess(c_pp, c_p, c, reduction_prev), nodes, ops, stride))
    return DartsNet(_Ends(space, num_classes), cells)


class DartsSupernet(CellSupernet):
    """Weight-sharing DARTS network: a mixed op on every possible edge of every cell."""

    def __init__(self, space: DartsSpace, num_classes: int) -> None:
        super().__init__(space, num_classes)
        self.darts = space
        self.ends = _Ends(space, num_classes)
        self.cells = nn.ModuleList(
            DartsMixedCell(space, _Preprocess(c_pp, c_p, c, rp), c, cell_type)
            for cell_type, c_pp, c_p, c, rp in _layout(space)
        )

    def _cells(self) -> list[DartsMixedCell]:
        return [cast(DartsMixedCell, c) for c in self.cells]

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        nodes = {t: self.darts.cell(arch, t) for t in CELL_TYPES}
        s0 = s1 = self.ends.stem(x)
        for cell in self._cells():
            s0, s1 = s1, cell(s0, s1, nodes[cell.cell_type])
        return self.ends.end(s1)

    def forward_weighted(
        self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        s0 = s1 = self.ends.stem(x)
        for cell in self._cells():
            s0, s1 = s1, cell.forward_weighted(s0, s1, weights)
        return self.ends.end(s1)

    def mixed_ops(self) -> list[tuple[str, MixedOp]]:
        out = []
        for cell in self._cells():
            for key in cell.edges:
                i, j = key.split("_")
                out.append((f"{cell.cell_type}.node{i}.from{j}", cell.edge(key)))
        return out

    @torch.no_grad()
    def extract(self, arch: Mapping[str, Value]) -> DartsNet:
        nodes = {t: self.darts.cell(arch, t) for t in CELL_TYPES}
        cells = [cell.extract(nodes[cell.cell_type]) for cell in self._cells()]
        return DartsNet(copy.deepcopy(self.ends), cells).train(self.training)
