"""BatchNorm recalibration (Once-for-All, Sec. 3.2; also SPOS).

Running statistics accumulated while training the supernet mix many paths; a sub-network needs
its own. Reset them and re-estimate them as an exact average over a few training batches.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def recalibrate_bn(module: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Re-estimate every BatchNorm's running mean/var of ``module`` on ``batches``.

    The module is returned in eval mode. ``momentum=None`` makes BatchNorm keep a cumulative
    average, so the result does not depend on batch order.
    """
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    for x in batches:
        module(x)
    for m, momentum in zip(bns, saved, strict=True):
        m.momentum = momentum
    return module.eval()
