"""Build the evaluator a search asks for (``--evaluator``; default: the supernet)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.data import Dataset
from nas.errors import OptionError
from nas.evaluators.base import Evaluator
from nas.hardware import Target
from nas.spaces import Space
from nas.storage import Store

if TYPE_CHECKING:
    from nas.search import Reporter, SearchOptions

EVALUATORS = ("supernet", "synthetic")


def check_evaluator(opts: SearchOptions, space: Space) -> None:
    """Validate ``--evaluator`` before anything is written."""
    kind = opts.evaluator.partition(":")[0]
    if kind not in EVALUATORS:
        raise OptionError(
            f"unknown evaluator {opts.evaluator!r}; known evaluators: {', '.join(EVALUATORS)}"
        )
    if kind == "synthetic":
        from nas.evaluators.synthetic import parse_seconds

        parse_seconds(opts.evaluator)


def build_evaluator(
    opts: SearchOptions,
    space: Space,
    data: Dataset,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> tuple[Evaluator, dict[str, Any]]:
    """The evaluator and facts about how it was made (``supernet``: trained/loaded, seconds)."""
    if opts.evaluator.partition(":")[0] == "synthetic":
        from nas.evaluators.synthetic import SyntheticEvaluator, parse_seconds

        return SyntheticEvaluator(parse_seconds(opts.evaluator)), {}
    import torch

    from nas.checkpoint import default_directory, obtain_supernet
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.storage.latency_cache import LatencyCache
    from nas.supernet.train import TrainConfig

    cfg = TrainConfig(epochs=opts.supernet_epochs, batch_size=opts.batch_size, seed=opts.seed)
    torch.manual_seed(opts.seed)
    directory = (
        Path(opts.checkpoint_dir) if opts.checkpoint_dir else default_directory(opts.storage)
    )
    t0 = time.perf_counter()
    supernet, status = obtain_supernet(
        store, space, data, cfg, directory=directory, on_step=reporter.training_step
    )
    seconds = time.perf_counter() - t0
    reporter.message(f"supernet {status} ({seconds:.1f} s)")
    evaluator = SupernetEvaluator(
        space,
        supernet,
        data,
        target,
        cache=LatencyCache(store),
        calib_batches=opts.calib_batches,
        seed=opts.seed,
    )
    return evaluator, {"supernet": status, "seconds": seconds}
