"""Depthwise convolution for training on small maps, as one batched matrix product.

oneDNN's (and ATen's) CPU kernels compute the *weight gradient* of a depthwise convolution
very slowly for large kernels on small maps: a 7x7 depthwise backward on a 4x4 map of 288
channels, batch 128, took 250 ms here, where the products involved are a few million. On a
map of ``H x W`` pixels a depthwise convolution of channel ``c`` is a fixed linear map, the
``(Ho*Wo) x (H*W)`` matrix whose entries are the kernel's taps (zero where a tap falls off the
map): one gathered, batched matrix product over channels, which BLAS does in 26 ms for that
case (forward and backward), and which autograd differentiates exactly.

Used only where it wins (training, kernel 5 or more, maps up to 16x16; benchmarks in
docs/spaces.md); everywhere else, and always in eval mode (export, ONNX, scoring), the
ordinary convolution runs, so exported networks are plain ``nn.Conv2d``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

MAX_PIXELS = 256  # 16x16: beyond this the matrix grows as pixels^2 and oneDNN catches up
MIN_KERNEL = 5  # a 3x3 depthwise backward is fast in oneDNN already


@lru_cache(maxsize=512)
def _tap_index(h: int, w: int, k: int, stride: int) -> tuple[torch.Tensor, int, int]:
    """For each (output pixel, input pixel) the kernel tap joining them, or ``k*k`` (zero)."""
    p = k // 2
    ho, wo = (h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1
    oh = torch.arange(ho).view(-1, 1, 1, 1)
    ow = torch.arange(wo).view(1, -1, 1, 1)
    ih = torch.arange(h).view(1, 1, -1, 1)
    iw = torch.arange(w).view(1, 1, 1, -1)
    i, j = ih - oh * stride + p, iw - ow * stride + p
    valid = (i >= 0) & (i < k) & (j >= 0) & (j < k)
    idx = torch.where(valid, i * k + j, torch.full_like(i, k * k))
    return idx.reshape(ho * wo, h * w), ho, wo


def wins(x: torch.Tensor, kernel: int) -> bool:
    """Whether :func:`depthwise_matmul` is the faster way to train on ``x`` with ``kernel``."""
    return (
        kernel >= MIN_KERNEL
        and x.shape[2] * x.shape[3] <= MAX_PIXELS
        and torch.is_grad_enabled()
        and x.requires_grad
    )


def depthwise_matmul(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """``F.conv2d(x, weight, None, stride, k // 2, 1, C)`` for a depthwise ``weight``
    ``(C, 1, k, k)``, computed as a gathered batched matrix product (see the module)."""
    b, c, h, w = x.shape  # (B, C, H, W)
    k = weight.shape[-1]
    idx, ho, wo = _tap_index(h, w, k, stride)
    taps = torch.cat([weight.reshape(c, k * k), weight.new_zeros(c, 1)], dim=1)  # (C, k*k+1)
    m = taps[:, idx]  # (C, Ho*Wo, H*W)
    y = torch.bmm(m, x.reshape(b, c, h * w).permute(1, 2, 0))  # (C, Ho*Wo, B)
    return y.permute(2, 0, 1).reshape(b, c, ho, wo)


def depthwise(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """A 'same'-padded depthwise convolution, by whichever computation is faster here."""
    k = weight.shape[-1]
    if wins(x, k):
        return depthwise_matmul(x, weight, stride)
    return F.conv2d(x, weight, None, stride, k // 2, 1, x.shape[1])


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(C, C, k, stride, k // 2, groups=C, bias=False)`` that trains through
    :func:`depthwise` (same parameters, same state dict, same function)."""

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__(
            channels, channels, kernel, stride, kernel // 2, groups=channels, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and wins(x, self.kernel_size[0]):
            return depthwise_matmul(x, self.weight, self.stride[0])
        return super().forward(x)
