"""Cheap cost metrics of a standalone module: parameters and FLOPs/MACs."""

from __future__ import annotations

import torch
from torch import nn


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.inference_mode()
def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Floating-point operations of one forward pass (torch's own counter; 1 MAC = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        module(torch.zeros(*input_shape))
    return int(counter.get_total_flops())
