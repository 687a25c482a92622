"""Train a standalone network on its own for a few epochs, starting from its current weights.

Used after extraction (``nas export --finetune-epochs``) and after pruning (``nas
compress``). Plain SGD with Nesterov momentum and a cosine schedule from a small learning
rate, since the weights are already trained; seeded, so the same call gives the same weights.
With a ``teacher`` (the unpruned network) the loss also pulls the network's softened outputs
towards the teacher's (knowledge distillation, Hinton et al. 2015), which recovers more of
what pruning removed than the labels alone on a small training split.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas.data import Dataset
from nas.errors import OptionError

log = logging.getLogger(__name__)


def finetune(
    net: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 0.01,
    weight_decay: float = 3e-5,
    teacher: nn.Module | None = None,
    distill: float = 0.5,
    temperature: float = 4.0,
) -> list[float]:
    """Fine-tune ``net`` in place on the training split; returns each epoch's mean loss.

    With ``teacher``, the loss is ``(1 - distill) * cross-entropy + distill * T^2 *
    KL(teacher || net)`` at temperature ``T``; the teacher is only run, never changed.

    Raises:
        OptionError: ``epochs`` < 0.
    """
    if epochs < 0:
        raise OptionError(f"--finetune-epochs must be >= 0, got {epochs}")
    if epochs == 0:
        return []
    from nas.supernet.score import small_input_view

    gen = torch.Generator().manual_seed(seed)
    # Train the cropped-kernel view (same function at this resolution, much faster backward
    # for large kernels on tiny maps), then write its weights back into ``net``.
    full, net = net, small_input_view(net, (2, *data.shape))
    guide = None if teacher is None else small_input_view(teacher, (2, *data.shape)).eval()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    n = len(y)
    steps = math.ceil(n / batch_size)
    opt = torch.optim.SGD(
        net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    history: list[float] = []
    net.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        losses = []
        for b in range(steps):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples per channel in training mode
                continue
            opt.zero_grad(set_to_none=True)
            loss = _loss(net, x[idx], y[idx], guide, distill, temperature)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)) if losses else float("nan"))
        log.info("fine-tune epoch %d/%d loss %.4f", epoch + 1, epochs, history[-1])
    _copy_back(full, net)
    full.eval()
    return history


def _loss(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    guide: nn.Module | None,
    distill: float,
    temperature: float,
) -> torch.Tensor:
    """Cross-entropy on ``(x, y)``, mixed with the distillation term when there is a teacher."""
    out = net(x)  # (B, classes)
    loss = F.cross_entropy(out, y)
    if guide is None:
        return loss
    with torch.no_grad():
        soft = F.softmax(guide(x) / temperature, dim=1)
    kd = F.kl_div(F.log_softmax(out / temperature, dim=1), soft, reduction="batchmean")
    return (1 - distill) * loss + distill * temperature**2 * kd


@torch.no_grad()
def _copy_back(full: nn.Module, view: nn.Module) -> None:
    """Copy ``view``'s state into ``full``; cropped kernels go to the centre taps."""
    target = full.state_dict()
    for name, value in view.state_dict().items():
        dst = target[name]
        if dst.shape == value.shape:
            dst.copy_(value)
        else:  # (out, in/groups, k, k) inside (out, in/groups, K, K)
            k, big = value.shape[-1], dst.shape[-1]
            s = (big - k) // 2
            dst[..., s : s + k, s : s + k].copy_(value)
