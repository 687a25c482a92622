"""Differentiable architecture search on a cell supernet (Liu et al., "DARTS", ICLR 2019),
with a hardware-aware latency term (Wu et al., "FBNet", CVPR 2019; Cai et al.,
"ProxylessNAS", ICLR 2019).

Every edge key of the space has a vector of architecture logits ``alpha``; the supernet runs
the mixture ``sum_k softmax(alpha)_k * op_k(x)``. Each step alternates

1. an architecture step (Adam) on a batch of the *architecture* split, minimising
   ``CE + latency_weight * E[latency_ms]``, where ``E[latency_ms] = sum over edges of
   softmax(alpha) . table[edge]`` and the table holds each operation's measured latency at its
   edge's shape (summed over the cells that share the edge key). First order by default; the
   second-order option differentiates through one virtual SGD step of the weights, with the
   Hessian-vector product by finite differences (DARTS Eq. 7-8);
2. a weight step (SGD, cosine schedule) on a batch of the *weight* split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas.errors import OptionError
from nas.supernet.mixed import CellSupernet

log = logging.getLogger(__name__)
Edges = Sequence[tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class DartsConfig:
    """DARTS hyper-parameters (the paper's, except ``arch_lr``: see ``docs/darts.md``)."""

    epochs: int
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    arch_lr: float = 3e-3
    arch_weight_decay: float = 1e-3
    order: int = 1
    latency_weight: float = 0.0  # per millisecond of expected latency
    grad_clip: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise OptionError(f"DARTS needs at least 1 search epoch, got {self.epochs}")
        if self.order not in (1, 2):
            raise OptionError(f"--darts-order must be 1 or 2, got {self.order}")
        if self.latency_weight < 0:
            raise OptionError(f"--darts-latency-weight must be >= 0, got {self.latency_weight}")
        if not self.arch_lr > 0:
            raise OptionError(f"--darts-arch-lr must be > 0, got {self.arch_lr}")


class DartsSearch:
    """Architecture weights and both optimisers for one DARTS run on ``net``."""

    def __init__(
        self,
        net: CellSupernet,
        edges: Edges,
        cfg: DartsConfig,
        latency_table: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.net = net
        self.cfg = cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        self.keys = [k for k, _ in edges]
        self.ops = dict(edges)
        self.alphas = {  # DARTS initialises the logits near zero (uniform mixture)
            k: nn.Parameter(1e-3 * torch.randn(len(ops), generator=gen)) for k, ops in edges
        }
        self.table = (
            {k: torch.tensor(list(latency_table[k]), dtype=torch.float32) for k in self.keys}
            if latency_table is not None
            else None
        )
        self.w_opt = torch.optim.SGD(
            net.parameters(), cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        self.a_opt = torch.optim.Adam(
            list(self.alphas.values()),
            lr=cfg.arch_lr,
            betas=(0.5, 0.999),
            weight_decay=cfg.arch_weight_decay,
        )
        self.epoch = 0

    # ---- the relaxation -------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return {k: F.softmax(a, dim=0) for k, a in self.alphas.items()}

    def probabilities(self) -> dict[str, list[float]]:
        """Softmax of every edge's logits, in the space's operation order (JSON-friendly)."""
        with torch.no_grad():
            return {k: [float(v) for v in w] for k, w in self.weights().items()}

    def expected_latency(self) -> torch.Tensor:
        """``sum over edges of softmax(alpha) . table`` in ms (0 without a table)."""
        if self.table is None:
            return torch.zeros(())
        w = self.weights()
        return torch.stack([(w[k] * self.table[k]).sum() for k in self.keys]).sum()

    def _arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(self.net.forward_weighted(x, self.weights()), y)
        if self.cfg.latency_weight and self.table is not None:
            loss = loss + self.cfg.latency_weight * self.expected_latency()
        return loss

    # ---- one step -------------------------------------------------------------------------
    def step(
        self, xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor
    ) -> float:
        """An architecture step on ``(xa, ya)``, then a weight step on ``(xw, yw)``."""
        self.a_opt.zero_grad(set_to_none=True)
        if self.cfg.order == 1:
            self._arch_loss(xa, ya).backward()
        else:
            self._second_order_grad(xw, yw, xa, ya)
        self.a_opt.step()
        self.w_opt.zero_grad(set_to_none=True)  # drop weight gradients of the arch step
        fixed = {k: w.detach() for k, w in self.weights().items()}
        loss = F.cross_entropy(self.net.forward_weighted(xw, fixed), yw)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        self.w_opt.step()
        return float(loss.detach())

    def _second_order_grad(
        self, xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor
    ) -> None:
        """Set ``alpha.grad`` to DARTS's unrolled gradient (Eq. 7), Hessian term by Eq. 8.

        The virtual step is plain SGD with weight decay at the current learning rate (the
        paper also adds the momentum buffer; leaving it out keeps the step stateless).
        """
        params = [p for p in self.net.parameters() if p.requires_grad]
        alphas = list(self.alphas.values())
        xi = self.w_opt.param_groups[0]["lr"]
        saved = [p.detach().clone() for p in params]
        train_loss = F.cross_entropy(self.net.forward_weighted(xw, self.weights()), yw)
        grads = torch.autograd.grad(train_loss, params, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(xi * ((g if g is not None else 0.0) + self.cfg.weight_decay * p))
        val_loss = self._arch_loss(xa, ya)  # at the virtual weights w'
        all_grads = torch.autograd.grad(val_loss, alphas + params, allow_unused=True)
        d_alpha = [
            g if g is not None else torch.zeros_like(a)
            for g, a in zip(all_grads[: len(alphas)], alphas, strict=True)
        ]
        d_w = [
            g if g is not None else torch.zeros_like(p)
            for g, p in zip(all_grads[len(alphas) :], params, strict=True)
        ]
        eps = 0.01 / (torch.cat([g.flatten() for g in d_w]).norm() + 1e-12)

        def grad_alpha_at(sign: float) -> list[torch.Tensor]:
            with torch.no_grad():
                for p, s, g in zip(params, saved, d_w, strict=True):
                    p.copy_(s + sign * eps * g)
            loss = F.cross_entropy(self.net.forward_weighted(xw, self.weights()), yw)
            out = torch.autograd.grad(loss, alphas, allow_unused=True)
            pairs = zip(out, alphas, strict=True)
            return [g if g is not None else torch.zeros_like(a) for g, a in pairs]

        plus, minus = grad_alpha_at(1.0), grad_alpha_at(-1.0)
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
        for a, da, gp, gm in zip(alphas, d_alpha, plus, minus, strict=True):
            a.grad = da - xi * (gp - gm) / (2 * eps)

    def train_epoch(
        self,
        weight_split: tuple[np.ndarray, np.ndarray],
        arch_split: tuple[np.ndarray, np.ndarray],
        *,
        on_step: Callable[[int, int, float], None] | None = None,
    ) -> float:
        """One pass over the weight split (arch batches cycle alongside); mean weight loss."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.epoch)
        xw, yw = (torch.from_numpy(a) for a in weight_split)
        xa, ya = (torch.from_numpy(a) for a in arch_split)
        steps = math.ceil(len(yw) / cfg.batch_size)
        pw = torch.randperm(len(yw), generator=gen)
        pa = torch.randperm(len(ya), generator=gen)
        # cosine schedule over all epochs, set per epoch as in the paper's search script
        lr = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (
            1 + math.cos(math.pi * self.epoch / cfg.epochs)
        )
        for group in self.w_opt.param_groups:
            group["lr"] = lr
        self.net.train()
        losses = []
        for b in range(steps):
            iw = pw[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            ia = pa[(torch.arange(len(iw)) + b * cfg.batch_size) % len(ya)]
            losses.append(self.step(xw[iw], yw[iw], xa[ia], ya[ia]))
            if on_step is not None:
                on_step(self.epoch * steps + b + 1, cfg.epochs * steps, losses[-1])
        self.epoch += 1
        log.info("darts epoch %d/%d loss %.4f", self.epoch, cfg.epochs, float(np.mean(losses)))
        return float(np.mean(losses))


@torch.no_grad()
def op_latency_table(
    net: CellSupernet,
    edges: Edges,
    input_shape: tuple[int, ...],
    measure: Callable[[str, nn.Module, tuple[int, ...], tuple[int, ...]], float],
) -> dict[str, list[float]]:
    """Per edge key, each operation's latency in ms at its edge's input shape, summed over the
    cells sharing the key (``none`` costs 0).

    Shapes come from one mixture forward at ``input_shape``; ``measure(name, op, in_shape,
    out_shape)`` gives one operation's latency (:func:`nas.hardware.lut.cells.cell_op_table`
    reads it from the lookup table or measures it once).
    """
    shapes: dict[tuple[int, str], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    mixed_ops = net.mixed_ops()

    def hook(i: int, name: str) -> Callable:
        def record(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
            shapes[(i, name)] = (tuple(inp[0].shape), tuple(out.shape))

        return record

    hooks = [
        mixed.ops[name].register_forward_hook(hook(i, name))
        for i, (_, mixed) in enumerate(mixed_ops)
        for name in mixed.names
        if name != "none"
    ]
    was_training = net.training
    net.eval()
    uniform = {k: torch.full((len(ops),), 1.0 / len(ops)) for k, ops in edges}
    net.forward_weighted(torch.zeros(*input_shape), uniform)
    net.train(was_training)
    for h in hooks:
        h.remove()
    table = {k: [0.0] * len(ops) for k, ops in edges}
    for i, (key, mixed) in enumerate(mixed_ops):
        for k, name in enumerate(mixed.names):
            if name != "none":
                table[key][k] += measure(name, mixed.ops[name], *shapes[(i, name)])
    return table
