"""The gradient driver: DARTS's differentiable search recorded as ordinary Optuna trials.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna

from nas.errors import OptionError
from nas.search.objective import arch_attrs, objective_values, report_trial, result_attrs
from nas.spaces import CellSpace
from nas.storage import keys
from nas.storage import studies as st

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from nas.data import Dataset
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.hardware import Target
    from nas.reporting import Reporter
    from nas.spaces import Space
    from nas.storage import Store
    from nas.storage.studies import StudySettings
    from nas.supernet.darts_search import DartsConfig, DartsSearch
    from nas.supernet.mixed import CellSupernet

log = logging.getLogger(__name__)


def cell_space(space: Space) -> CellSpace:
    """``space`` as the cell space DARTS needs.

    Raises:
        OptionError: ``space`` has no mixed edges (it is not nb201, darts or a kind like them).
    """
    if not isinstance(space, CellSpace):
        raise OptionError(
            f"--strategy darts needs a cell space with mixed edges (nb201, darts); "
            f"space {space.name!r} is of kind {space.kind!r}"
        )
    return space


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


@dataclass(frozen=True)
class DartsRun:
    """What :func:`run_darts` takes besides the space, data and storage."""

    config: DartsConfig  # epochs = the study's budget
    calib_batches: int  # BatchNorm recalibration of each derived cell
    seed: int
    checkpoint_dir: Path  # where the supernet's weights go after every epoch


def checkpoint_key(study: optuna.Study, space: Space, data: Dataset) -> str:
    """The key of a DARTS study's supernet checkpoint (one per study, replaced every epoch)."""
    blob = f"darts\n{study.study_name}\n{space.digest}\n{data.fingerprint()}\n{data.num_classes}"
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def run_darts(
    run: DartsRun,
    space: Space,
    data: Dataset,
    target: Target,
    store: Store,
    study: optuna.Study,
    settings: StudySettings,
    reporter: Reporter,
) -> dict[str, float]:
    """Run ``run.config.epochs`` DARTS epochs, adding one COMPLETE trial per epoch to ``study``.

    After every epoch the supernet's weights are saved (``run.checkpoint_dir``) and recorded
    under the study's ``darts_checkpoint`` key, so ``nas export`` rebuilds any recorded cell,
    also after an interrupted run. Returns the seconds spent: ``supernet`` (search),
    ``evaluation``, ``latency``.
    """
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.storage.latency_cache import LatencyCache
    from nas.supernet import create_supernet
    from nas.supernet.darts_search import DartsSearch
    from nas.supernet.mixed import CellSupernet
    from nas.supernet.seeding import seeded
    from nas.supernet.trained import save_checkpoint

    cfg = run.config
    cells = cell_space(space)
    with seeded(run.seed):
        net = create_supernet(space, data.num_classes)
    assert isinstance(net, CellSupernet)
    edges = cells.mixed_edges()
    cache = LatencyCache(store)
    seconds = {"supernet": 0.0, "evaluation": 0.0, "latency": 0.0}
    table = None
    if cfg.latency_weight > 0:
        table = _latency_table(net, edges, space, target, store, study, reporter)
    search = DartsSearch(net, edges, cfg, table)
    evaluator = SupernetEvaluator(
        space, net, data, target, cache=cache, calib_batches=run.calib_batches, seed=run.seed
    )
    key = checkpoint_key(study, space, data)
    study.set_user_attr(keys.DARTS_CHECKPOINT, key)
    meta = {"space": space.name, "data": data.name, "study": study.study_name}
    weight_split, arch_split = _split_training_set(data, run.seed)
    reporter.search_started(study.study_name, 0, cfg.epochs)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        loss = search.train_epoch(weight_split, arch_split, on_step=reporter.training_step)
        seconds["supernet"] += time.perf_counter() - t0
        save_checkpoint(store, key, net, run.checkpoint_dir, f"{space.name}-darts", meta)
        trial = _record_epoch(search, cells, evaluator, study, settings, epoch, loss, table)
        seconds["evaluation"] += float(trial.user_attrs.get(keys.EVAL_SECONDS, 0.0))
        seconds["latency"] += float(trial.user_attrs.get(keys.LATENCY_SECONDS, 0.0))
        report_trial(study, trial, cfg.epochs, reporter, settings.max_latency_ms)
    return seconds


def _latency_table(
    net: CellSupernet,
    edges: list,
    space: Space,
    target: Target,
    store: Store,
    study: optuna.Study,
    reporter: Reporter,
) -> dict[str, list[float]]:
    """The per-operation latencies of the latency term, from the space's lookup table on
    ``target``, recorded on the study."""
    from nas.hardware.lut.cells import cell_op_table

    t0 = time.perf_counter()
    table, measured = cell_op_table(net, edges, space, target, store)
    reporter.message(
        f"latency table: {measured} operations measured, the rest read from the space's "
        f"lookup table ({time.perf_counter() - t0:.1f} s)"
    )
    study.set_user_attr(keys.DARTS_LATENCY_TABLE, table)
    return table


def _record_epoch(
    search: DartsSearch,
    space: CellSpace,
    evaluator: SupernetEvaluator,
    study: optuna.Study,
    settings: StudySettings,
    epoch: int,
    loss: float,
    table: dict[str, list[float]] | None,
) -> FrozenTrial:
    """Derive the cell of this epoch, evaluate it and add it to ``study`` as a COMPLETE trial
    with the same attributes as every other driver's trials (nas.search.objective)."""
    from nas.spaces.optuna_adapter import distributions

    probs = search.probabilities()
    arch = space.derive(probs)
    h = space.hash(arch)
    ev = evaluator.evaluate(arch, h)
    attrs = {
        **arch_attrs(space, arch, h),
        **result_attrs(ev, settings),
        keys.ARCH_WEIGHTS: {k: [round(p, 6) for p in v] for k, v in probs.items()},
        keys.DARTS_EPOCH: epoch,
        keys.DARTS_LOSS: loss,
    }
    if table is not None:
        attrs[keys.EXPECTED_LATENCY_MS] = float(search.expected_latency().detach())
    study.add_trial(
        optuna.trial.create_trial(
            params=space.to_params(arch),
            distributions=distributions(space),
            values=objective_values(ev, settings),
            user_attrs=attrs,
        )
    )
    log.info("darts epoch %d: %s acc %.4f", epoch, space.describe(arch), ev.accuracy)
    return st.complete_trials(study)[-1]
