"""Train one architecture from scratch: the recipe of the project's reference sets.

A *reference set* (``benchmarks/reference/``, made by ``benchmarks/bench_reference.py``) is
the project's own small NAS benchmark: architectures of one space, each trained from scratch
with one documented recipe and several seeds, scored on held-out images. Scorers (the
supernet's inherited accuracy, parameter counts, zero-cost proxies, ensembles) are judged
against it. The recipe is a frozen record stored beside the set, and training is deterministic
for a given recipe, seed and thread count: same seed, same accuracy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch

from nas.data import Dataset
from nas.errors import OptionError
from nas.spaces.base import Space, Value
from nas.supernet import create_subnet
from nas.supernet.score import accuracy
from nas.supernet.seeding import seeded
from nas.supernet.train import TrainConfig, train_module


@dataclass(frozen=True)
class StandaloneRecipe:
    """How a reference architecture is trained (the optimiser is the supernet's: SGD with
    Nesterov momentum and a one-cycle schedule, :func:`nas.supernet.train.train_module`)."""

    train_images: int = 50_000
    epochs: int = 2
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 3e-5
    threads: int = 1  # the float sums' order, so part of what makes a run repeatable

    def __post_init__(self) -> None:
        for name in ("train_images", "epochs", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise OptionError(f"recipe {name} must be >= 1, got {getattr(self, name)}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StandaloneResult:
    val_acc: float  # fraction in [0, 1] on the data's whole validation split
    val_images: int
    params: int
    train_s: float


def train_standalone(
    space: Space, arch: Mapping[str, Value], data: Dataset, recipe: StandaloneRecipe, seed: int
) -> StandaloneResult:
    """Train ``arch`` from freshly initialised weights with ``recipe`` and ``seed``.

    ``data`` must already hold the recipe's training subset; the accuracy is measured on all
    of its validation images. The initialisation draws from a generator seeded with ``seed``
    (:func:`nas.supernet.seeding.seeded`: the caller's random state is left as it was).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        with seeded(seed):
            net = create_subnet(space, arch, data.num_classes)
        cfg = TrainConfig(
            epochs=recipe.epochs,
            batch_size=recipe.batch_size,
            lr=recipe.lr,
            weight_decay=recipe.weight_decay,
            seed=seed,
        )
        t0 = time.perf_counter()
        train_module(net, data, cfg)
        train_s = time.perf_counter() - t0
        acc = accuracy(net, data.x_val, data.y_val)
    finally:
        torch.set_num_threads(threads)
    params = sum(p.numel() for p in net.parameters())
    return StandaloneResult(acc, len(data.y_val), params, train_s)
