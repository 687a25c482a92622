"""Elastic and static MBConv (inverted residual) blocks, after Once-for-All (Cai et al., 2020).

The elastic block holds the largest weights (largest kernel, largest expansion, widest input
and output) and slices them for the active path: a smaller kernel takes the *centre* of the
largest kernel, a smaller expansion or a narrower input or output the *first* channels. The
static block is an ordinary module; ``extract`` copies the active slices into one, so both
compute the same function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nas.supernet.depthwise import DepthwiseConv2d, depthwise

# A chain space's ``activation``: the module the static blocks hold, the function the elastic
# blocks call (MobileNetV2's ReLU6 by default; NAS-Bench-Macro trains with ReLU).
ACTIVATIONS: dict[str, tuple[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]]] = {
    "relu6": (nn.ReLU6, F.relu6),
    "relu": (nn.ReLU, F.relu),
}


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm; callers add the activation."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    )


class MBConv(nn.Module):
    """A static inverted-residual block: 1x1 expand, kxk depthwise, 1x1 project (+ residual)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        kernel: int,
        expand: int,
        use_expand: bool = True,
        activation: str = "relu6",
    ) -> None:
        super().__init__()
        hidden = in_ch * expand
        act = ACTIVATIONS[activation][0]
        # MobileNetV2's first block has no expansion conv at all (use_expand=False); searchable
        # blocks always keep it, even at ratio 1, so they match their elastic parent.
        self.expand = (
            nn.Sequential(*conv_bn(in_ch, hidden, 1, 1), act(inplace=True))
            if use_expand
            else nn.Identity()
        )
        # same layers as conv_bn; the convolution trains fast on small maps (depthwise.py)
        self.depthwise = nn.Sequential(
            DepthwiseConv2d(hidden, kernel, stride), nn.BatchNorm2d(hidden), act(inplace=True)
        )
        self.project = conv_bn(hidden, out_ch, 1, 1)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d, n: int) -> torch.Tensor:
    """BatchNorm over the first ``n`` channels of ``bn`` (running stats update in place)."""
    mean = bn.running_mean
    var = bn.running_var
    assert mean is not None and var is not None
    return F.batch_norm(
        x,
        mean[:n],
        var[:n],
        bn.weight[:n],
        bn.bias[:n],
        bn.training,
        0.0 if bn.momentum is None else bn.momentum,
        bn.eps,
    )


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, n: int) -> None:
    assert src.running_mean is not None and src.running_var is not None
    assert dst.running_mean is not None and dst.running_var is not None
    dst.weight.data.copy_(src.weight.data[:n])
    dst.bias.data.copy_(src.bias.data[:n])
    dst.running_mean.copy_(src.running_mean[:n])
    dst.running_var.copy_(src.running_var[:n])


class ElasticMBConv(nn.Module):
    """An MBConv whose kernel size, expansion ratio and output width are chosen per forward
    call; its input width is the incoming tensor's (at most ``in_ch``)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        max_kernel: int,
        max_expand: int,
        activation: str = "relu6",
    ):
        super().__init__()
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride
        self.activation = activation
        self._act = ACTIVATIONS[activation][1]
        self.max_kernel, self.max_expand = max_kernel, max_expand
        hidden = in_ch * max_expand
        self.expand_conv = nn.Conv2d(in_ch, hidden, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(hidden)
        self.dw_conv = nn.Conv2d(
            hidden, hidden, max_kernel, stride, max_kernel // 2, groups=hidden, bias=False
        )
        self.dw_bn = nn.BatchNorm2d(hidden)
        self.project_conv = nn.Conv2d(hidden, out_ch, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(out_ch)
        self.residual = stride == 1 and in_ch == out_ch

    def _dw_weight(self, kernel: int, hidden: int) -> torch.Tensor:
        start = (self.max_kernel - kernel) // 2
        return self.dw_conv.weight[:hidden, :, start : start + kernel, start : start + kernel]

    def forward(
        self, x: torch.Tensor, kernel: int, expand: int, out_ch: int | None = None
    ) -> torch.Tensor:
        in_ch = x.shape[1]
        out = self.out_ch if out_ch is None else out_ch
        hidden = in_ch * expand
        h = F.conv2d(x, self.expand_conv.weight[:hidden, :in_ch])  # (B, hidden, H, W)
        h = self._act(_bn(h, self.expand_bn, hidden))
        # Taps more than (size - 1) pixels from the centre only ever see zero padding; dropping
        # them gives the same output and spares oneDNN's very slow large-kernel depthwise
        # backward on the tiny maps of the late stages.
        k = min(kernel, 2 * max(h.shape[2], h.shape[3]) - 1)
        h = depthwise(h, self._dw_weight(k, hidden), self.stride)
        h = self._act(_bn(h, self.dw_bn, hidden))  # (B, hidden, H/s, W/s)
        y = _bn(F.conv2d(h, self.project_conv.weight[:out, :hidden]), self.project_bn, out)
        # the residual follows the active widths, as the static block's does
        return x + y if self.stride == 1 and in_ch == out else y

    @torch.no_grad()
    def extract(
        self, kernel: int, expand: int, in_ch: int | None = None, out_ch: int | None = None
    ) -> MBConv:
        """A static :class:`MBConv` holding copies of the active weights."""
        cin = self.in_ch if in_ch is None else in_ch
        out = self.out_ch if out_ch is None else out_ch
        block = MBConv(cin, out, self.stride, kernel, expand, activation=self.activation)
        hidden = cin * expand
        assert isinstance(block.expand, nn.Sequential)
        for seq, conv_w, bn, n in (
            (block.expand, self.expand_conv.weight[:hidden, :cin], self.expand_bn, hidden),
            (block.depthwise, self._dw_weight(kernel, hidden), self.dw_bn, hidden),
            (block.project, self.project_conv.weight[:out, :hidden], self.project_bn, out),
        ):
            conv, dst_bn = seq[0], seq[1]
            assert isinstance(conv, nn.Conv2d) and isinstance(dst_bn, nn.BatchNorm2d)
            conv.weight.copy_(conv_w)
            _copy_bn(dst_bn, bn, n)
        return block


class Shortcut(nn.Module):
    """An identity layer (NAS-Bench-Macro's ``Identity``): the input as it is, or through a 1x1
    conv and BatchNorm, no activation, where the layer changes stride or width."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.proj = conv_bn(in_ch, out_ch, 1, stride) if stride != 1 or in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H/s, W/s)
        return x if self.proj is None else self.proj(x)
