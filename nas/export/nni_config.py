"""The ``compression.json`` of an export: a pruning ``config_list`` in NNI's format.

It is the list itself, so ``config_list = json.load(open("compression.json"))`` goes straight
into an NNI pruner (``L1NormPruner(model, config_list)``) with the model from :func:`nas.load`.
It uses NNI's classic keys (``sparsity_per_layer``, ``exclude``), which NNI 2.x and 3.0 read.

What may be pruned (see :mod:`nas.export.widths` for why): the convs that make a channel group,
each at ``sparsity_per_layer``; in a chain network the expand convs of MBConv blocks and the
head conv, in a ResNet every conv of a block but its last. What must not, listed in one
``exclude`` entry: every other conv and linear layer (block outputs feed residual additions,
depthwise convs follow their expand conv one to one, the classifier). Cell networks have no
such group, so they get no config list (:func:`config_list` returns None).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from nas.export.widths import prunable

DEFAULT_SPARSITY = 0.5


def config_list(net: nn.Module, sparsity: float = DEFAULT_SPARSITY) -> list[dict[str, Any]] | None:
    """NNI pruning config for ``net``: prunable convs and exclusions; None if nothing is."""
    convs = {id(c) for c in prunable(net).values()}
    if not convs:
        return None
    layers = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    names = [n for n, m in layers if id(m) in convs]
    excluded = [n for n, m in layers if id(m) not in convs]
    return [
        {"op_types": ["Conv2d"], "op_names": names, "sparsity_per_layer": sparsity},
        {"exclude": True, "op_names": excluded},
    ]
