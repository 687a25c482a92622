"""Build the evaluator a search asks for (``--evaluator``): a registry of kinds by name.

Each kind (:class:`EvaluatorKind`, :func:`register_evaluator`) has a ``check`` that validates
its options before anything is written and a ``build``; the CLI's and the service's help and
validation come from the registry (:func:`evaluator_usage`, :func:`check_evaluator`).

``supernet`` trains (or loads) the space's weight-sharing supernet on ``--data`` and measures
latency on ``--target``; ``table:PATH.csv`` looks both up in a tabular benchmark
(:mod:`nas.evaluators.table`) and needs neither data nor a target (a table without a latency
column: latency measured on ``--target``, no data); ``zero-cost[:NAME|vote]``
trains nothing, scores each fresh network with a zero-cost proxy and measures latency on
``--target`` (:mod:`nas.evaluators.zero_cost`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.errors import OptionError
from nas.evaluators.base import Evaluator
from nas.spaces import Space
from nas.storage import Store

if TYPE_CHECKING:
    from nas.data import Dataset
    from nas.evaluators.latency import LatencyMeter  # imports torch, as the next line
    from nas.hardware import Target  # imports torch: a table search must not
    from nas.hardware.lut import LatencyPredictor
    from nas.reporting import Reporter


@dataclass(frozen=True)
class EvaluatorOptions:
    """The options an evaluator is built from: the search plan's, resolved (no defaults here:
    :class:`~nas.search.options.SearchOptions` declares them once)."""

    evaluator: str  # supernet | table:PATH.csv | synthetic[:S] | zero-cost[:P]
    accuracy_column: str | None
    latency_column: str | None
    data: str | None
    storage: str
    checkpoint_dir: str | None
    supernet_epochs: int | None  # resolved by the plan wherever a supernet trains
    batch_size: int
    calib_batches: int
    supernet_seed: int
    latency: str  # nas.evaluators.base.LATENCY_MODES


@dataclass(frozen=True)
class EvaluatorPlan:
    """What ``--evaluator`` needs and what the study records about it.

    ``record`` is stored as the study's ``evaluator`` setting (a resume must match it);
    ``data``, ``data_fingerprint`` and ``target``, when set, replace the study settings that a
    supernet search takes from ``--data`` and ``--target``. ``prebuilt`` is an evaluator that
    had to be built to be checked (a table is read once).
    """

    kind: str
    record: str
    needs_data: bool = True
    needs_target: bool = False  # a target even without data (a table timed on --target)
    num_classes: int | None = None  # of the networks timed when there is no data
    data: str | None = None
    data_fingerprint: str | None = None
    target: str | None = None
    prebuilt: Evaluator | None = None
    predictor: LatencyPredictor | None = None  # validated (latency_predictor), before writing


AUTO = "auto"


def auto_evaluator(space: Space, data: str | None) -> str:
    """What ``--evaluator auto`` means for ``space`` on ``data`` (``None``: the default set).

    The scorer whose ranking of the space's reference set agreed best with training from
    scratch (the shipped fidelity records, :func:`nas.storage.fidelity.best_record`), where
    such a set was measured for this space version and data; the supernet elsewhere.
    """
    from nas.data import default_data
    from nas.storage.fidelity import best_record

    record = best_record(space.name, space.digest, data or default_data())
    return record.scorer if record is not None else "supernet"


Builder = Callable[
    [EvaluatorOptions, EvaluatorPlan, Space, "Dataset | None", "Target", Store, "Reporter"],
    tuple[Evaluator, dict[str, Any]],
]


@dataclass(frozen=True)
class EvaluatorKind:
    """One kind of ``--evaluator``, registered by name (:func:`register_evaluator`).

    ``check`` validates the options (``arg`` is what follows ``NAME:``) and returns the plan,
    before anything is written; ``build`` makes the evaluator from the plan, the data and the
    target (``None`` when ``check`` already built it: ``plan.prebuilt``). ``usage`` and
    ``summary`` are the CLI's and the service's help.
    """

    name: str
    usage: str
    summary: str
    check: Callable[[EvaluatorOptions, Space, str], EvaluatorPlan]
    build: Builder | None = None


_REGISTRY: dict[str, EvaluatorKind] = {}


def register_evaluator(kind: EvaluatorKind) -> EvaluatorKind:
    """Add ``kind`` to the evaluators ``--evaluator`` knows (a later one of a name replaces)."""
    _REGISTRY[kind.name] = kind
    return kind


def evaluator_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def evaluator_usage() -> str:
    """Every registered evaluator's usage and one-line summary, for help texts."""
    return "; ".join(f"{k.usage}: {k.summary}" for k in _REGISTRY.values())


def get_evaluator_kind(spec: str) -> tuple[EvaluatorKind, str]:
    """The registered kind of ``spec`` (``NAME[:ARG]``) and its argument.

    Raises:
        OptionError: no evaluator of that name.
    """
    name, _, arg = spec.partition(":")
    if name not in _REGISTRY:
        known = ", ".join([AUTO] + [k.usage for k in _REGISTRY.values()])
        raise OptionError(f"unknown evaluator {spec!r}; known evaluators: {known}")
    return _REGISTRY[name], arg


def check_evaluator(opts: EvaluatorOptions, space: Space) -> EvaluatorPlan:
    """Validate ``--evaluator`` and its options before anything is written.

    Raises:
        NasInputError: unknown evaluator; for a table, a missing file or column or keys that
            are not architectures of ``space``.
    """
    kind, arg = get_evaluator_kind(opts.evaluator)
    if kind.name != "table" and (
        opts.accuracy_column is not None or opts.latency_column is not None
    ):
        raise OptionError("--accuracy-column and --latency-column need --evaluator table:PATH")
    return kind.check(opts, space, arg)


def _check_supernet(opts: EvaluatorOptions, space: Space, arg: str) -> EvaluatorPlan:
    if arg:
        raise OptionError(f"--evaluator supernet takes no argument, got {opts.evaluator!r}")
    return EvaluatorPlan("supernet", "supernet")


def _check_synthetic(opts: EvaluatorOptions, space: Space, arg: str) -> EvaluatorPlan:
    from nas.evaluators.synthetic import SyntheticEvaluator, parse_seconds

    # data and target are still read and checked, as a real search would
    stand_in = SyntheticEvaluator(parse_seconds(opts.evaluator))
    return EvaluatorPlan("synthetic", opts.evaluator, prebuilt=stand_in)


def _check_zero_cost(opts: EvaluatorOptions, space: Space, arg: str) -> EvaluatorPlan:
    from nas.evaluators.zero_cost import parse_proxy

    # recorded with its proxy spelled out, so zero-cost and zero-cost:vote resume alike
    return EvaluatorPlan("zero-cost", f"zero-cost:{parse_proxy(opts.evaluator)}")


def _check_table(opts: EvaluatorOptions, space: Space, arg: str) -> EvaluatorPlan:
    from nas.evaluators.table import (
        DEFAULT_ACCURACY_COLUMN,
        TABLE_CLASSES,
        TableEvaluator,
        TableSpec,
        file_digest,
        latency_column,
    )

    if not arg:
        raise OptionError("--evaluator table needs the table's path: table:PATH.csv")
    if opts.data is not None:
        raise OptionError("--data is not used with a table evaluator (the table holds the scores)")
    path = Path(arg)
    spec = TableSpec(
        path,
        opts.accuracy_column or DEFAULT_ACCURACY_COLUMN,
        latency_column(path, opts.latency_column),
    )
    evaluator = TableEvaluator(space, spec)
    if spec.latency_column is None:  # accuracy from the table, latency measured on --target
        return EvaluatorPlan(
            "table",
            spec.describe(),
            needs_data=False,
            needs_target=True,
            data=f"table:{spec.path.name}",
            data_fingerprint=file_digest(spec.path),
            num_classes=TABLE_CLASSES,
        )
    return EvaluatorPlan(
        "table",
        spec.describe(),
        needs_data=False,
        data=f"table:{spec.path.name}",
        data_fingerprint=file_digest(spec.path),
        target=f"table:{spec.latency_column}",
        prebuilt=evaluator,
    )


def build_evaluator(
    opts: EvaluatorOptions,
    space: Space,
    data: Dataset | None,
    target: Target | None,
    store: Store,
    reporter: Reporter,
    plan: EvaluatorPlan | None = None,
) -> tuple[Evaluator, dict[str, Any]]:
    """The evaluator and facts about how it was made (``supernet``: trained/loaded, seconds)."""
    plan = plan or check_evaluator(opts, space)
    if plan.prebuilt is not None:
        return plan.prebuilt, {}
    assert target is not None, f"{plan.kind} needs a target"
    assert data is not None or not plan.needs_data, f"{plan.kind} needs data"
    build = _REGISTRY[plan.kind].build
    assert build is not None, f"{plan.kind} is built by its check"
    return build(opts, plan, space, data, target, store, reporter)


create_evaluator = build_evaluator  # the registry's create_* name, as for targets and strategies


def _supernet(
    opts: EvaluatorOptions,
    plan: EvaluatorPlan,
    space: Space,
    data: Dataset | None,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> tuple[Evaluator, dict[str, Any]]:
    """The supernet evaluator: train (or load) the supernet, then inherited weights."""
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.storage.paths import checkpoint_folder
    from nas.supernet.seeding import seeded
    from nas.supernet.train import TrainConfig
    from nas.supernet.trained import obtain_supernet

    assert data is not None
    assert opts.supernet_epochs is not None, "make_plan resolves the epochs of a supernet"
    cfg = TrainConfig(
        epochs=opts.supernet_epochs, batch_size=opts.batch_size, seed=opts.supernet_seed
    )
    directory = checkpoint_folder(opts.checkpoint_dir, opts.storage)
    t0 = time.perf_counter()
    with seeded(opts.supernet_seed):  # the supernet's initial weights
        supernet, status = obtain_supernet(
            store, space, data, cfg, directory=directory, on_step=reporter.training_step
        )
    seconds = time.perf_counter() - t0
    reporter.message(f"supernet {status} ({seconds:.1f} s)")
    meter = _latency_meter(opts, plan, space, data.num_classes, target, store, reporter)
    evaluator = SupernetEvaluator(
        space,
        supernet,
        data,
        target,
        cache=meter.cache,
        calib_batches=opts.calib_batches,
        seed=opts.supernet_seed,
        latency=meter,
    )
    return evaluator, {"supernet": status, "seconds": seconds}


def _zero_cost(
    opts: EvaluatorOptions,
    plan: EvaluatorPlan,
    space: Space,
    data: Dataset | None,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> tuple[Evaluator, dict[str, Any]]:
    """The zero-cost evaluator: no supernet; latency measured as the supernet evaluator's."""
    from nas.evaluators.zero_cost import ZeroCostEvaluator

    assert data is not None
    meter = _latency_meter(opts, plan, space, data.num_classes, target, store, reporter)
    proxy = plan.record.partition(":")[2]
    t0 = time.perf_counter()
    evaluator = ZeroCostEvaluator(space, data, target, meter, proxy=proxy, seed=opts.supernet_seed)
    seconds = time.perf_counter() - t0
    reporter.message(
        f"zero-cost evaluator ({proxy}), no supernet trained; reference sample scored "
        f"({seconds:.1f} s)"
    )
    return evaluator, {"supernet": "untrained", "seconds": seconds}


def _table_timed(
    opts: EvaluatorOptions,
    plan: EvaluatorPlan,
    space: Space,
    data: Dataset | None,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> tuple[Evaluator, dict[str, Any]]:
    """A table without a latency column: its accuracies, latency measured on ``--target``."""
    from nas.evaluators.table import DEFAULT_ACCURACY_COLUMN, TableEvaluator, TableSpec

    assert plan.num_classes is not None
    meter = _latency_meter(opts, plan, space, plan.num_classes, target, store, reporter)
    path = Path(opts.evaluator.partition(":")[2])
    spec = TableSpec(path, opts.accuracy_column or DEFAULT_ACCURACY_COLUMN, None)
    evaluator = TableEvaluator(space, spec, latency=meter)
    reporter.message(f"table {spec.path.name}: accuracy from the table, latency on {target.name}")
    return evaluator, {}


def _latency_meter(
    opts: EvaluatorOptions,
    plan: EvaluatorPlan,
    space: Space,
    num_classes: int,
    target: Target,
    store: Store,
    reporter: Reporter,
) -> LatencyMeter:
    """How every evaluator that builds networks gets their latency (``--latency``, the cache
    in the study's database, the validated predictor where one is used)."""
    from nas.evaluators.latency import LatencyMeter
    from nas.storage.latency_cache import LatencyCache

    predictor = plan.predictor or latency_predictor(
        opts, space, target, store, num_classes, reporter
    )
    return LatencyMeter(
        space,
        target,
        mode=opts.latency,
        cache=LatencyCache(store),
        predictor=predictor,
        num_classes=num_classes,
    )


def latency_predictor(
    opts: EvaluatorOptions,
    space: Space,
    target: Target,
    store: Store,
    num_classes: int,
    reporter: Reporter,
) -> LatencyPredictor | None:
    """The validated predictor ``--latency predicted|hybrid`` uses (None for ``measured``);
    the table is profiled and the fit made and validated first if the database has none.

    Raises:
        FitRefused: the fit fails its validation on held-out networks, or has no figures.
    """
    if opts.latency == "measured":
        return None
    from nas.hardware.lut import fit_summary, load_predictor

    t0 = time.perf_counter()
    pred = load_predictor(
        store, space, target, num_classes, seed=opts.supernet_seed, on_message=reporter.message
    )
    reporter.message(
        f"latency predictor ready ({time.perf_counter() - t0:.1f} s): table {fit_summary(pred)}"
    )
    return pred


register_evaluator(
    EvaluatorKind(
        "supernet",
        "supernet",
        "inherited weights of the space's weight-sharing supernet (trained once on --data), "
        "latency on --target",
        _check_supernet,
        _supernet,
    )
)
register_evaluator(
    EvaluatorKind(
        "table",
        "table:PATH.csv",
        "look each architecture up in a tabular benchmark keyed by its canonical string "
        "(column 'arch'); no supernet, --data not used; latency from the table's latency "
        "column, or measured on --target where the table has none",
        _check_table,
        _table_timed,
    )
)
register_evaluator(
    EvaluatorKind(
        "zero-cost",
        "zero-cost[:NAME|vote]",
        "no supernet: each fresh network scored by a zero-cost proxy (vote, an ensemble, when "
        "no NAME is given) on one batch of --data, latency on --target; the accuracy axis is "
        "the proxy's score",
        _check_zero_cost,
        _zero_cost,
    )
)
register_evaluator(
    EvaluatorKind(
        "synthetic",
        "synthetic[:SECONDS]",
        "a deterministic stand-in score after a pause, for testing the machinery",
        _check_synthetic,
    )
)
