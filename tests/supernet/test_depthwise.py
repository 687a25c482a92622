"""The matrix-product depthwise convolution computes what F.conv2d computes, gradients too."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nas.supernet.depthwise import DepthwiseConv2d, depthwise_matmul


@pytest.mark.parametrize(
    ("size", "kernel", "stride"), [(4, 7, 1), (7, 7, 2), (5, 5, 1), (3, 3, 2), (16, 5, 2)]
)
def test_same_output_and_gradients_as_conv2d(size: int, kernel: int, stride: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, size, size, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 1, kernel, kernel, generator=g, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x, w, None, stride, kernel // 2, 1, 6)
    got = depthwise_matmul(x, w, stride)
    torch.testing.assert_close(got, ref)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    gx_ref, gw_ref = torch.autograd.grad(ref, (x, w), up)
    gx, gw = torch.autograd.grad(got, (x, w), up)
    torch.testing.assert_close(gx, gx_ref)
    torch.testing.assert_close(gw, gw_ref)


def test_module_is_a_plain_conv_in_eval_and_the_same_function_in_training() -> None:
    conv = DepthwiseConv2d(8, 7, 1)
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    train = conv.train()(x)
    with torch.no_grad():
        ev = conv.eval()(x)
    torch.testing.assert_close(train, ev, rtol=1e-5, atol=1e-5)
    assert set(conv.state_dict()) == {"weight"}
