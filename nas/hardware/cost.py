"""Cheap cost metrics of a standalone module: parameters, FLOPs/MACs, peak activation memory."""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Floating-point operations of one forward pass (torch's own counter; 1 MAC = 2 FLOPs)."""
    return forward_costs(module, input_shape)[0]


class ActivationTracker(TorchDispatchMode):
    """Peak live activation bytes, and FLOPs, of the operators run under it.

    Every tensor an operator returns is counted from its creation until Python drops its last
    reference (weak-reference finalizers), once per storage, so in-place operators and views
    add nothing. Parameters and buffers are not activations and are not counted; neither is
    scratch memory a kernel allocates and frees inside one operator. This is the working
    memory that bounds small devices (MCUNet, Lin et al., 2020).

    FLOPs use torch's own per-operator formulas (``torch.utils.flop_counter.flop_registry``,
    1 MAC = 2 FLOPs), the ones ``FlopCounterMode`` applies. ``FlopCounterMode`` itself is not
    used: it runs under inference mode, where composite operators (conv2d, linear,
    batch_norm) reach the dispatch mode whole and it decomposes each one in Python: measured
    (loaded) at about 9x the forward pass, some 14 % of a search trial, against about 5x. Run
    under ``torch.no_grad()`` instead (as :func:`forward_costs` does), composites are
    decomposed by the autograd layer before they get here, so ``aten.convolution`` and
    ``aten.addmm`` arrive as themselves and no Python decomposition is needed.
    """

    def __init__(self) -> None:
        super().__init__()
        from torch.utils.flop_counter import flop_registry

        self.registry = flop_registry
        self.live: dict[int, int] = {}
        self.now = 0
        self.peak = 0
        self.flops = 0

    def track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in self.live or t.device.type == "meta":
            return
        self.live[ptr] = storage.nbytes()
        self.now += self.live[ptr]
        self.peak = max(self.peak, self.now)
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        self.now -= self.live.pop(ptr, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = self.registry.get(func._overloadpacket)
        if count is not None:
            self.flops += int(count(*args, **kwargs, out_val=out))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.track(t)
        return out


def forward_costs(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(flops, peak_activation_bytes)`` of one forward pass, from a single pass."""
    module.eval()
    tracker = ActivationTracker()
    # no_grad, and never inference mode (even inside a caller's): see the tracker's docstring
    with torch.inference_mode(False), torch.no_grad():
        x = torch.zeros(*input_shape)
    y: Any = None
    with torch.inference_mode(False), torch.no_grad(), tracker:
        tracker.track(x)
        y = module(x)
    del y, x
    return tracker.flops, int(tracker.peak)
