"""The rows of a latency lookup table: which layers a chain space's networks consist of.

The lookup table follows FBNet (Wu et al., 2019) and Once-for-All (Cai et al., 2020): a chain
network's latency is close to the sum of its layers' latencies, each measured alone at the
input shape it sees inside the network. So every distinct layer the space can produce (stem,
every block option at every position and input shape, head) is measured once, and any
architecture is predicted by adding its layers' entries. :func:`lut_key` is the one function
that names a layer; :func:`layer_specs` lists an architecture's layers, :func:`all_specs`
every layer the space allows, :func:`build_layer` the module that computes one. Layers 1.. of
a stage all see the same shape, so they share keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nas.errors import OptionError
from nas.spaces import ChainSpace, Space
from nas.spaces.base import Value
from nas.storage.latency_lut import LayerKey  # the stored key format (the dashboard parses it)

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the table sees it: what it computes and the shape it runs at."""

    kind: str  # "stem" | "mbconv" | "shortcut" (an identity layer's 1x1 conv) | "head"
    in_ch: int
    out_ch: int
    stride: int
    kernel: int
    expand: int
    height: int  # of the layer's input
    width: int
    batch: int
    mid_ch: int = 0  # stem: stem conv channels before the first block; head: head conv channels
    classes: int = 0  # head only

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.in_ch, self.height, self.width)


def lut_key(spec: LayerSpec) -> str:
    """The canonical key of a layer: every field that can change its latency, nothing else."""
    s = spec
    return LayerKey(
        s.kind,
        s.in_ch,
        s.out_ch,
        s.mid_ch,
        s.stride,
        s.kernel,
        s.expand,
        s.classes,
        s.batch,
        s.height,
        s.width,
    ).text()


def _chain(space: Space) -> ChainSpace:
    if not isinstance(space, ChainSpace):
        raise OptionError(
            f"lookup tables need a chain space; space {space.name!r} is of kind {space.kind!r}"
        )
    return space


def _out(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a convolution with padding ``kernel // 2`` (as every conv here)."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _stem(space: ChainSpace) -> tuple[LayerSpec, int, int, int]:
    m = space.model
    b, c, h, w = space.latency_input.shape
    out = m.first_block_channels or m.stem.channels
    st = space.stem_stride  # the stride the network runs at (adapted to small inputs)
    spec = LayerSpec("stem", c, out, st, m.stem.kernel, 1, h, w, b, m.stem.channels)
    return spec, out, _out(h, m.stem.kernel, st), _out(w, m.stem.kernel, st)


def _head(space: ChainSpace, ch: int, h: int, w: int, num_classes: int) -> LayerSpec:
    head = space.model.head_channels or 0
    return LayerSpec(
        "head", ch, num_classes, 1, 1, 1, h, w, space.latency_input.batch, head, num_classes
    )


def _block(
    in_ch: int, out_ch: int, stride: int, layer: dict[str, int], h: int, w: int, batch: int
) -> LayerSpec | None:
    """The entry of one searched layer; None for an identity layer that computes nothing."""
    if layer:
        k, e = layer["kernel"], layer["expand"]
        return LayerSpec("mbconv", in_ch, out_ch, stride, k, e, h, w, batch)
    if stride == 1 and in_ch == out_ch:
        return None
    return LayerSpec("shortcut", in_ch, out_ch, stride, 1, 0, h, w, batch)


def layer_specs(space: Space, arch: Mapping[str, Value], num_classes: int) -> list[LayerSpec]:
    """The layers of ``arch`` in forward order (stem, its active blocks, head)."""
    cs = _chain(space)
    stem, ch, h, w = _stem(cs)
    specs = [stem]
    batch = cs.latency_input.batch
    for stage, width, layers in zip(cs.stages, cs.widths(arch), cs.layers(arch), strict=True):
        for j, layer in enumerate(layers):
            stride = stage.stride if j == 0 else 1
            spec = _block(ch, width, stride, layer, h, w, batch)
            if spec is not None:
                specs.append(spec)
            ch, h, w = width, _out(h, 3, stride), _out(w, 3, stride)
    specs.append(_head(cs, ch, h, w, num_classes))
    return specs


def all_specs(space: Space, num_classes: int) -> list[LayerSpec]:
    """Every distinct layer any architecture of the space contains (the table's rows)."""
    cs = _chain(space)
    stem, ch, h, w = _stem(cs)
    out: dict[str, LayerSpec] = {lut_key(stem): stem}
    options = (
        list(cs.ops.values())
        if cs.ops is not None
        else [
            {"kernel": k, "expand": e}
            for k in cs.layer_options["kernel"]
            for e in cs.layer_options["expand"]
        ]
    )
    batch = cs.latency_input.batch
    ins: tuple[int, ...] = (ch,)  # the widths the stage's input may have
    for stage in cs.stages:
        # Position 0 changes stride and width; positions 1.. all see the stage's output shape.
        h1, w1 = _out(h, 3, stage.stride), _out(w, 3, stage.stride)
        for width in stage.width_options:
            positions = [(c, stage.stride, h, w) for c in ins]
            if stage.max_depth > 1:
                positions.append((width, 1, h1, w1))
            for in_ch, stride, hh, ww in positions:
                for layer in options:
                    spec = _block(in_ch, width, stride, layer, hh, ww, batch)  # type: ignore[arg-type]
                    if spec is not None:
                        out[lut_key(spec)] = spec
        ins, h, w = stage.width_options, h1, w1
    for ch in ins:
        head = _head(cs, ch, h, w, num_classes)
        out[lut_key(head)] = head
    return list(out.values())


def build_layer(space: Space, spec: LayerSpec) -> nn.Module:
    """A standalone module computing the layer (fresh weights: latency does not depend on them)."""
    from torch import nn

    from nas.supernet.chain import ChainEnds  # the exact stem and head the networks use
    from nas.supernet.mbconv import MBConv, Shortcut

    cs = _chain(space)
    if spec.kind == "mbconv":
        return MBConv(
            spec.in_ch,
            spec.out_ch,
            spec.stride,
            spec.kernel,
            spec.expand,
            activation=cs.activation,
        ).eval()
    if spec.kind == "shortcut":
        return Shortcut(spec.in_ch, spec.out_ch, spec.stride).eval()
    # the head reads the last stage's width of this entry (elastic widths: one entry each)
    ends = ChainEnds(cs, max(spec.classes, 1), last=spec.in_ch if spec.kind == "head" else None)

    class _Part(nn.Module):
        def __init__(self, ends: ChainEnds, first: bool) -> None:
            super().__init__()
            self.ends, self.first = ends, first

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.ends.begin(x) if self.first else self.ends.end(x)

    if spec.kind in ("stem", "head"):
        return _Part(ends, spec.kind == "stem").eval()
    raise ValueError(f"unknown layer kind {spec.kind!r}")
