"""Score a candidate with inherited weights: extract, recalibrate BatchNorm, evaluate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import nn

from nas.spaces.base import Value
from nas.supernet.base import Supernet
from nas.supernet.bn import recalibrate_bn


def batches(x: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    for i in range(0, len(x), batch_size):
        yield torch.from_numpy(x[i : i + batch_size])


@torch.no_grad()
def accuracy(module: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy (a fraction in [0, 1]) of ``module`` in eval mode."""
    module.eval()
    correct = 0
    for i, xb in enumerate(batches(x, batch_size)):
        pred = module(xb).argmax(dim=1).numpy()
        correct += int((pred == y[i * batch_size : i * batch_size + len(pred)]).sum())
    return correct / max(len(y), 1)


def calibration_batches(
    x_train: np.ndarray, *, n_batches: int, batch_size: int, seed: int
) -> list[torch.Tensor]:
    """The fixed training batches every candidate's BatchNorm is re-estimated on."""
    rng = np.random.default_rng(seed)
    n = min(len(x_train), n_batches * batch_size)
    idx = rng.permutation(len(x_train))[:n]
    return list(batches(x_train[idx], batch_size))


def extract_scored(
    net: Supernet,
    arch: Mapping[str, Value],
    calib: list[torch.Tensor],
    x_val: np.ndarray,
    y_val: np.ndarray,
) -> tuple[nn.Module, float]:
    """The standalone network for ``arch`` with BatchNorm statistics of its own, and its
    validation accuracy.

    Recalibration and scoring run on :func:`small_input_view` (same function, faster at the
    training resolution); the statistics are then copied into the full network, which is the
    one returned for latency measurement and export.
    """
    full = net.extract(arch).eval()
    view = recalibrate_bn(small_input_view(full, tuple(calib[0].shape)), calib)
    copy_bn_stats(full, view)
    return full, accuracy(view, x_val, y_val)


def small_input_view(module: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """A copy of ``module`` that computes the same function, faster, at ``input_shape``.

    At a small training resolution the late stages run on 1x1 or 2x2 maps, where most taps of
    a large 'same'-padded kernel only ever see zero padding; oneDNN still spends most of the
    time on them. The copy crops every such kernel to ``2 * size - 1`` taps, which gives the
    same outputs at this shape (and only at shapes this small or smaller).
    """
    import copy

    sizes: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(
                m.register_forward_hook(
                    lambda mod, inp, out, name=name: sizes.__setitem__(name, inp[0].shape[2:])
                )
            )
    was_training = module.training
    module.eval()
    with torch.no_grad():
        module(torch.zeros(*input_shape))
    module.train(was_training)
    for hook in hooks:
        hook.remove()
    view = copy.deepcopy(module)
    for name, m in list(view.named_modules()):
        if not isinstance(m, nn.Conv2d) or name not in sizes:
            continue
        kh, kw = m.kernel_size
        h, w = sizes[name]
        k = min(kh, 2 * max(h, w) - 1)
        same = m.padding == (kh // 2, kw // 2) and m.dilation == (1, 1) and kh == kw
        if not same or k >= kh:
            continue
        start = (kh - k) // 2
        small = nn.Conv2d(
            m.in_channels,
            m.out_channels,
            k,
            m.stride,  # type: ignore[arg-type]
            k // 2,
            groups=m.groups,
            bias=m.bias is not None,
        )
        with torch.no_grad():
            small.weight.copy_(m.weight[:, :, start : start + k, start : start + k])
            if m.bias is not None and small.bias is not None:
                small.bias.copy_(m.bias)
        parent_name, _, child = name.rpartition(".")
        parent = view.get_submodule(parent_name) if parent_name else view
        setattr(parent, child, small)
    return view.train(was_training)


def copy_bn_stats(dst: nn.Module, src: nn.Module) -> None:
    """Copy BatchNorm running statistics between two modules with the same module names."""
    src_bns = {
        n: m for n, m in src.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }
    for n, m in dst.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            s = src_bns[n]
            assert m.running_mean is not None and s.running_mean is not None
            assert m.running_var is not None and s.running_var is not None
            m.running_mean.copy_(s.running_mean)
            m.running_var.copy_(s.running_var)
            if m.num_batches_tracked is not None and s.num_batches_tracked is not None:
                m.num_batches_tracked.copy_(s.num_batches_tracked)
