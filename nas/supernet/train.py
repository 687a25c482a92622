"""Single-path supernet training with the sandwich rule.

Each step trains the largest path, the smallest path and ``n_random`` uniformly sampled paths
on the same batch and takes one optimiser step on the summed gradients (Guo et al., "Single
Path One-Shot", 2020; Yu et al., "BigNAS" / "Universally Slimmable Networks", 2019-2020). The
smaller paths also learn from the largest path's soft predictions (in-place distillation,
BigNAS), which makes the inherited-weight ranking of sub-networks more faithful.

One change to the textbook rule: the smallest path is trained only on every
``smallest_every``-th step (4 by default; a random path takes its place on the others). With
the short default schedule (250 steps) a path trained on every step gets hundreds of updates
while any one random path gets almost none, so its inherited accuracy says how often it was
trained, not how good it is: measured on 14 architectures trained from scratch (benchmarks/
RESULTS.md, "Does the supernet rank like training?"), the smallest network was scored third
of 14 and is last when trained alone, and Kendall's tau between inherited and standalone
accuracy rose from -0.43 to 0.30 with this change. The largest path stays on every step: it
is the distillation teacher.

``sampling="fair"`` (the default since mobile v3) is FairNAS's strict fairness instead (Chu
et al., "FairNAS", ICCV 2021): each step trains ``m`` paths (``m`` = the most options any
choice has) in which every value of every choice appears equally often, from one random
permutation per choice, so no value gets more updates than another; with ``distill`` the
largest path is trained too, as the teacher of the fair paths. Measured on the 41
architectures of mobile v3's reference set (benchmarks/RESULTS.md, "Reference set and scorer
leaderboard"), inherited accuracy ranks them with Kendall tau 0.42 after fair training and
0.21 after the sandwich rule above, at the same number of paths per step.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nas.data import Dataset
from nas.errors import OptionError
from nas.spaces.base import Arch
from nas.supernet.base import Supernet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Supernet training schedule; part of the checkpoint key (a new schedule retrains)."""

    epochs: int = 40
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 3e-5
    n_random: int = 2
    distill: bool = True
    seed: int = 0
    smallest_every: int = 4  # train the smallest path on every k-th step only (module docstring)
    sampling: str = "fair"  # FairNAS strict fairness, or "sandwich" (module docstring)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise OptionError(f"supernet epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise OptionError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise OptionError(f"learning rate must be > 0, got {self.lr}")
        if self.smallest_every < 1:
            raise OptionError(f"smallest_every must be >= 1, got {self.smallest_every}")
        if self.sampling not in SAMPLINGS:
            raise OptionError(
                f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}"
            )


SAMPLINGS = ("sandwich", "fair")


def fair_paths(space: object, rng: random.Random) -> list[Arch]:
    """Strictly fair paths (FairNAS): as many as the largest option count, every value of
    every choice used by ``m / len(options)`` of them, values assigned by a random
    permutation per choice."""
    choices = space.choices  # type: ignore[attr-defined]
    m = max(len(c.options) for c in choices)
    perms = {}
    for c in choices:
        reps = -(-m // len(c.options))
        perms[c.label] = rng.sample(list(c.options) * reps, len(c.options) * reps)[:m]
    canonical = space.canonical  # type: ignore[attr-defined]
    return [canonical({label: perm[k] for label, perm in perms.items()}) for k in range(m)]


def sandwich(
    space: object, rng: random.Random, n_random: int, *, with_smallest: bool = True
) -> list[Arch]:
    """Largest, smallest (when the space defines them) and random paths: always
    ``n_random + 2`` paths, random ones standing in for the ends a space (or this step,
    ``with_smallest=False``) leaves out."""
    paths: list[Arch] = []
    for name in ("largest", "smallest") if with_smallest else ("largest",):
        fn = getattr(space, name, None)
        if fn is not None:
            paths.append(fn())
    sample = space.sample  # type: ignore[attr-defined]
    paths.extend(sample(rng) for _ in range(n_random + 2 - len(paths)))
    return paths


def _fit(
    module: torch.nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    step_loss: Callable[[torch.Tensor, torch.Tensor], float],
    on_step: Callable[[int, int, float], None] | None,
) -> list[float]:
    """The shared loop: SGD (Nesterov) with a one-cycle schedule over shuffled batches.

    ``step_loss(xb, yb)`` runs forward and backward for one batch and returns its loss; the
    loop clips gradients and steps. Returns the mean loss of each epoch.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    n = len(y)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.SGD(
        module.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=total, pct_start=0.1
    )
    history: list[float] = []
    module.train()
    step = 0
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        losses: list[float] = []
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            losses.append(step_loss(x[idx], y[idx]))  # (B, C, H, W), (B,)
            torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
            if on_step is not None:
                on_step(step, total, losses[-1])
        history.append(float(np.mean(losses)))
        log.info("epoch %d/%d loss %.4f", epoch + 1, cfg.epochs, history[-1])
    module.eval()
    return history


def train_supernet(
    net: Supernet,
    data: Dataset,
    cfg: TrainConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train ``net`` in place with the sandwich rule; returns the mean loss of each epoch.

    ``on_step(step, total_steps, loss)`` is called after every optimiser step.
    """
    rng = random.Random(cfg.seed)  # paths; batches shuffle with _fit's own generator
    steps = 0

    def step_loss(xb: torch.Tensor, yb: torch.Tensor) -> float:
        nonlocal steps
        steps += 1
        if cfg.sampling == "fair":
            largest = getattr(net.space, "largest", None)
            teacher_path = [largest()] if cfg.distill and largest is not None else []
            paths = teacher_path + fair_paths(net.space, rng)
        else:
            paths = sandwich(
                net.space, rng, cfg.n_random, with_smallest=steps % cfg.smallest_every == 0
            )
        teacher: torch.Tensor | None = None
        total = 0.0
        for k, arch in enumerate(paths):
            logits = net(xb, arch)
            loss = F.cross_entropy(logits, yb)
            if teacher is not None:
                soft = F.kl_div(
                    F.log_softmax(logits, 1), F.softmax(teacher, 1), reduction="batchmean"
                )
                loss = 0.5 * loss + 0.5 * soft
            if k == 0 and cfg.distill:
                teacher = logits.detach()
            loss.backward()
            total += float(loss.detach())
        return total / len(paths)

    return _fit(net, data, cfg, step_loss, on_step)


def train_module(
    module: torch.nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train a standalone network with the supernet's optimiser and schedule.

    Used to fine-tune an extracted network and, in benchmarks, to train candidates from
    scratch. Returns the mean training loss of each epoch.
    """

    def step_loss(xb: torch.Tensor, yb: torch.Tensor) -> float:
        loss = F.cross_entropy(module(xb), yb)
        loss.backward()
        return float(loss.detach())

    return _fit(module, data, cfg, step_loss, on_step)
