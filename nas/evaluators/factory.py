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

EVALUATORS = ("supernet",)


def check_evaluator(opts: SearchOptions, space: Space) -> None:
    """Validate ``--evaluator`` before anything is written."""
    kind = opts.evaluator.partition(":")[0]
    if kind not in EVALUATORS:
        raise OptionError(
            f"unknown evaluator {opts.evaluator!r}; known evaluators: {', '.join(EVALUATORS)}"
        )


def build_evaluator(
    opts: SearchOptions,
    space: Space,
    data: Dataset,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> tuple[Evaluator, dict[str, Any]]:
    """The evaluator and facts about how it was made (``supernet``: trained/loaded, seconds)."""
    import torch

    from nas.checkpoint import default_directory, obtain_supernet
    from nas.evaluators.latency import LatencyMeter, load_predictor
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
    cache = LatencyCache(store)
    predictor = None
    if opts.latency != "measured":
        t_lut = time.perf_counter()
        predictor = load_predictor(
            store, space, target, data.num_classes, seed=opts.seed, on_message=reporter.message
        )
        reporter.message(
            f"latency predictor ready ({time.perf_counter() - t_lut:.1f} s): "
            f"{predictor.correction.a:.3f} * table sum + {predictor.correction.b:.2f} ms"
        )
    meter = LatencyMeter(
        space,
        target,
        mode=opts.latency,
        cache=cache,
        predictor=predictor,
        num_classes=data.num_classes,
    )
    evaluator = SupernetEvaluator(
        space,
        supernet,
        data,
        target,
        cache=cache,
        calib_batches=opts.calib_batches,
        seed=opts.seed,
        latency=meter,
    )
    return evaluator, {"supernet": status, "seconds": seconds}
