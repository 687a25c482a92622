"""The ``darts`` strategy: differentiable search recorded as ordinary Optuna trials.

DARTS (Liu et al., ICLR 2019) is not an Optuna sampler: it optimises architecture weights by
gradient descent on the cell supernet (:mod:`nas.supernet.darts_search`). ``run_search`` hands
a ``darts`` study to :func:`run_darts`, which runs ``budget`` search epochs and after each one
records the derived discrete architecture as a COMPLETE trial with the same attributes as every
other strategy's trials (accuracy with inherited weights after BatchNorm recalibration, measured
latency of the extracted network, arch, hash, one-line form) plus the architecture weights, so
a DARTS run shows up in ``nas show`` and the dashboards like any other.

Data: DARTS's own split (Sec. 3.1) halves the *training* set into a weight half and an
architecture half; the validation split stays held out for the recorded accuracy, the number
every strategy reports.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import optuna

from nas.errors import OptionError
from nas.storage import keys
from nas.storage import studies as st
from nas.strategies.base import Strategy, StrategyContext, register_strategy

if TYPE_CHECKING:
    from nas.data import Dataset
    from nas.hardware import Target
    from nas.search import Reporter, SearchOptions
    from nas.spaces import Space
    from nas.storage import Store
    from nas.storage.studies import StudySettings

log = logging.getLogger(__name__)
NAME = "darts"


def _no_sampler(ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    raise OptionError("darts is not a sampler; nas search runs it through run_darts")


register_strategy(
    Strategy(
        NAME,
        _no_sampler,
        "DARTS differentiable search on a cell space (nb201, darts); budget = search epochs",
        driver="gradient",
        budget_unit="search epochs, one trial each",
        # as many epochs as the default supernet training of the sampler strategies
        default_budget=20,
    )
)


def is_differentiable(space: Space) -> bool:
    return hasattr(space, "mixed_edges") and hasattr(space, "derive")


def check_space(space: Space) -> None:
    """Raises OptionError unless ``space`` has mixed edges (nb201, darts)."""
    if not is_differentiable(space):
        raise OptionError(
            f"--strategy darts needs a cell space with mixed edges (nb201, darts); "
            f"space {space.name!r} is of kind {space.kind!r}"
        )


def check_resume(store: Store, study_name: str, budget: int) -> None:
    """Refuse to continue a partial DARTS run (its architecture and weight state are not
    checkpointed), before anything is written.

    Raises:
        OptionError: the study holds between 1 and ``budget - 1`` complete epochs.
    """
    if st.study_exists(store, study_name):
        done = st.count_complete(st.load(store, study_name))
        if 0 < done < budget:
            raise OptionError(
                f"study {study_name!r} holds {done} of {budget} DARTS epochs; a DARTS run "
                "cannot be resumed midway: use another --study"
            )


def _split_training_set(data: Dataset, seed: int) -> tuple[tuple, tuple]:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(data.y_train))
    half = len(idx) // 2
    w, a = idx[:half], idx[half:]
    return (data.x_train[w], data.y_train[w]), (data.x_train[a], data.y_train[a])


def run_darts(
    opts: SearchOptions,
    space: Space,
    data: Dataset,
    target: Target,
    store: Store,
    study: optuna.Study,
    settings: StudySettings,
    reporter: Reporter,
) -> dict[str, float]:
    """Run ``opts.budget`` DARTS epochs, adding one COMPLETE trial per epoch to ``study``.

    Returns the seconds spent: ``supernet`` (search), ``evaluation``, ``latency``.
    """
    import copy

    import torch

    from nas.evaluators.supernet import SupernetEvaluator
    from nas.objective import TrialObjective
    from nas.spaces.optuna_adapter import distributions
    from nas.storage.latency_cache import LatencyCache
    from nas.storage.results import best_accuracy, pareto_front
    from nas.supernet import create_supernet
    from nas.supernet.darts_search import DartsConfig, DartsSearch, op_latency_table
    from nas.supernet.mixed import CellSupernet

    cfg = DartsConfig(
        epochs=opts.budget,
        batch_size=min(opts.batch_size, 64),
        arch_lr=opts.darts_arch_lr,
        order=opts.darts_order,
        latency_weight=opts.darts_latency_weight,
        seed=opts.seed,
    )
    torch.manual_seed(opts.seed)
    net = create_supernet(space, data.num_classes)
    assert isinstance(net, CellSupernet)
    edges = space.mixed_edges()  # type: ignore[attr-defined]
    cache = LatencyCache(store)
    fp, fp_id = target.fingerprint(), target.fingerprint_id()
    table = None
    if cfg.latency_weight > 0:
        t0 = time.perf_counter()

        def measure(op: torch.nn.Module, shape: tuple[int, ...]) -> float:
            # Per-operation latencies share the latency cache under a key naming the op.
            key = hashlib.sha256(f"darts-op\n{op!r}".encode()).hexdigest()[:16]
            stats = cache.get(key, fp_id, shape)
            if stats is None:
                stats = target.measure(copy.deepcopy(op), shape).to_dict()
                cache.put(key, fp_id, shape, stats, fp)
            return float(stats["median_ms"])

        table = op_latency_table(net, edges, space.latency_input.shape, measure)
        reporter.message(f"latency table measured ({time.perf_counter() - t0:.1f} s)")
        study.set_user_attr(keys.DARTS_LATENCY_TABLE, table)
    search = DartsSearch(net, edges, cfg, table)
    evaluator = SupernetEvaluator(
        space, net, data, target, cache=cache, calib_batches=opts.calib_batches, seed=opts.seed
    )
    objective = TrialObjective(space, evaluator, settings, study)
    dists = distributions(space)
    weight_split, arch_split = _split_training_set(data, opts.seed)
    seconds = {"supernet": 0.0, "evaluation": 0.0, "latency": 0.0}
    reporter.search_started(study.study_name, 0, opts.budget)
    for epoch in range(1, opts.budget + 1):
        t0 = time.perf_counter()
        loss = search.train_epoch(weight_split, arch_split, on_step=reporter.training_step)
        seconds["supernet"] += time.perf_counter() - t0
        probs = search.probabilities()
        arch = space.derive(probs)  # type: ignore[attr-defined]
        h = space.hash(arch)
        ev = evaluator.evaluate(arch, h)
        seconds["evaluation"] += float(ev.attrs.get(keys.EVAL_SECONDS, 0.0))
        seconds["latency"] += float(ev.attrs.get(keys.LATENCY_SECONDS, 0.0))
        attrs = {
            keys.ARCH: arch,
            keys.ARCH_HASH: h,
            keys.ARCH_STR: space.describe(arch),
            **ev.attrs,
            keys.ACCURACY: ev.accuracy,
            keys.LATENCY_MS: ev.latency_ms,
            keys.ARCH_WEIGHTS: {k: [round(p, 6) for p in v] for k, v in probs.items()},
            keys.DARTS_EPOCH: epoch,
            keys.DARTS_LOSS: loss,
        }
        if table is not None:
            attrs[keys.EXPECTED_LATENCY_MS] = float(search.expected_latency().detach())
        if settings.max_latency_ms is not None:
            attrs[keys.CONSTRAINT] = [ev.latency_ms - settings.max_latency_ms]
        values = objective.values(ev)
        study.add_trial(
            optuna.trial.create_trial(
                params=space.to_params(arch),
                distributions=dists,
                values=values if isinstance(values, list) else [values],
                user_attrs=attrs,
            )
        )
        complete = st.complete_trials(study)
        reporter.trial_done(
            len(complete),
            opts.budget,
            complete[-1],
            best_accuracy(complete, settings.max_latency_ms),
            len(pareto_front(complete, settings.max_latency_ms)),
        )
        log.info("darts epoch %d: %s acc %.4f", epoch, space.describe(arch), ev.accuracy)
    return seconds
