"""Seeded module construction without touching the caller's random state.

House rule: every stochastic part owns its generator (``torch.Generator``, ``random.Random``,
``numpy.random.default_rng``). torch's module initialisers (``nn.Conv2d``, ``nn.Linear``, ...)
are the one exception: they only read torch's global generator. :func:`seeded` forks that
generator, seeds the fork and restores the caller's state on exit, so a network built (or a
library such as NNI run) inside it is the same for the same seed and nothing outside it
changes. This module holds the only call of a global seeding function in ``nas/``
(``tests/test_seeding.py`` fails on any other).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded with ``seed``; restore it afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
