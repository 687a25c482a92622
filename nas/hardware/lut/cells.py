"""DARTS's per-operation latencies as entries of the space's lookup table.

DARTS's latency term (FBNet-style, Wu et al. 2019) needs the latency of every operation of
every mixed edge at the shape it runs at. Each is an entry of the cell space's lookup table on
the target (``nas_latency_lut``), named by :func:`~nas.hardware.lut.layers.lut_key` like a
chain space's layers (``kind`` is the operation's name), so an operation is measured once per
target and shape, and later runs and other processes read it back.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

from nas.hardware.lut.layers import LayerSpec, lut_key
from nas.storage.latency_lut import LatencyTableStore

if TYPE_CHECKING:
    from torch import nn

    from nas.hardware import Target
    from nas.spaces import Space
    from nas.storage import Store
    from nas.supernet.mixed import CellSupernet

_KERNEL = re.compile(r"_(\d+)x\d+$")  # nor_conv_3x3, sep_conv_5x5, avg_pool_3x3, ...


def cell_op_spec(name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> LayerSpec:
    """One operation of a mixed edge as the table sees it: its name (which says what it
    computes, dilation included), channels in and out, stride, kernel and input shape."""
    batch, in_ch, height, width = in_shape
    m = _KERNEL.search(name)
    return LayerSpec(
        kind=name,
        in_ch=in_ch,
        out_ch=out_shape[1],
        stride=max(1, height // out_shape[2]),
        kernel=int(m.group(1)) if m else 0,
        expand=0,
        height=height,
        width=width,
        batch=batch,
    )


def cell_op_table(
    net: CellSupernet, edges: list, space: Space, target: Target, store: Store
) -> tuple[dict[str, list[float]], int]:
    """``(edge key -> per-operation latency in ms, operations measured now)`` on ``target``;
    entries already in the space's table on this target are read, not measured."""
    from nas.supernet.darts_search import op_latency_table

    tables = LatencyTableStore(store)
    fid = target.fingerprint_id()
    known = tables.entries(space.digest, fid)
    measured = 0

    def measure(
        name: str, op: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> float:
        nonlocal measured
        key = lut_key(cell_op_spec(name, in_shape, out_shape))
        if key not in known:
            stats = target.measure(copy.deepcopy(op), in_shape).to_dict()
            tables.put(space.digest, fid, key, stats, target.fingerprint())
            known[key] = float(stats["median_ms"])
            measured += 1
        return known[key]

    table = op_latency_table(net, edges, space.latency_input.shape, measure)
    return table, measured
