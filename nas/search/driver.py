"""The search driver behind ``nas search``: one supernet, a budget of candidates, an Optuna study.

The flow: validate every input (space, data, options, storage) before writing anything; open
or resume the study; then hand it to the strategy's *driver* until the study holds ``budget``
complete trials. The sampler driver (:func:`_drive_sampler`, :mod:`nas.search.loop`) builds the
evaluator (trains the supernet or loads its checkpoint) and lets an Optuna sampler propose
architectures; the gradient driver (DARTS, :func:`nas.search.darts.run_darts`) trains a cell
supernet by gradient descent and records the derived cell after every epoch. Both record a
trial's evaluation with the same helpers (:mod:`nas.search.objective`).

With ``workers > 1`` the search creates the study and then starts that many local
``nas worker`` processes (:mod:`nas.search.pool`); :func:`run_worker` is what each of them
runs, and what ``nas worker`` runs on other machines. Ctrl-C stops the search cleanly: the
running trial is failed with ``fail_reason = "interrupted"`` and the result so far is
returned, marked ``interrupted``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas import limits
from nas.analysis.results import pareto_front
from nas.errors import NasInputError, OptionError, StorageError
from nas.reporting import Reporter, SilentReporter
from nas.search import darts
from nas.search.loop import optimize_until_budget
from nas.search.objective import TrialObjective, constraints
from nas.search.options import GRADIENT, SearchOptions
from nas.spaces import load_space
from nas.storage import Store, keys
from nas.storage import studies as st
from nas.storage.snapshot import TrialSnapshot
from nas.storage.studies import StudySettings
from nas.strategies import StrategyContext, create_sampler, get_strategy
from nas.version import __version__

if TYPE_CHECKING:
    from nas.data import Dataset
    from nas.evaluators.factory import EvaluatorOptions, EvaluatorPlan
    from nas.hardware import Target
    from nas.spaces import Space

log = logging.getLogger(__name__)


def _check_checkpoint_dir(opts: SearchOptions) -> None:
    """The supernet checkpoint's folder must be (or be creatable as) a writable folder; found
    up front, not after the supernet has trained for an hour."""
    from nas.storage.paths import checkpoint_folder

    given = opts.checkpoint_dir
    folder = checkpoint_folder(given, opts.storage)
    what = (
        f"--checkpoint-dir {limits.clip(given, 200)}" if given else f"checkpoint folder {folder}"
    )
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"{what} is a file, not a folder; name a folder for the checkpoints")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OptionError(f"{what}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"{what}: {existing} is not writable")


@dataclass
class SearchResult:
    study_name: str
    storage: str
    budget: int
    completed: int
    front: list[FrozenTrial]
    settings: StudySettings
    supernet: str = ""  # "trained" | "loaded" | "" (not needed)
    seconds: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False  # stopped by Ctrl-C before the budget was reached
    completed_here: int = 0  # trials this process completed
    worker_status: list[int] = field(default_factory=list)  # exit codes of local workers


def timing_options(clock: str) -> dict[str, object]:
    """``create_target`` options for ``--clock`` (none for the default wall clock)."""
    if clock == "wall":
        return {}
    from nas.hardware import TimingConfig

    return {"timing": TimingConfig(clock=clock)}


def default_epochs(opts: SearchOptions, data: Dataset) -> int:
    """Epochs that make about :data:`~nas.search.options.DEFAULT_SUPERNET_STEPS` optimiser steps on
    ``data``'s training split (recorded in the study, so a resume or a worker uses the same)."""
    from nas.search.options import DEFAULT_SUPERNET_STEPS

    steps_per_epoch = -(-len(data.y_train) // opts.batch_size)
    return max(1, round(DEFAULT_SUPERNET_STEPS / steps_per_epoch))


def default_study_name(store: Store, base: str, settings: StudySettings) -> str:
    """``space-strategy-YYYYMMDD[-seedN]``; a same-day study with other settings gets ``-2``..."""
    name, n = base, 1
    while True:
        try:
            st.check_resume(store, name, settings)
            return name
        except NasInputError:
            n += 1
            name = f"{base}-{n}"


@dataclass(frozen=True)
class SearchPlan:
    """A search with every default resolved and every input checked; nothing written yet.

    ``opts`` is what the study records (``evaluator``, ``data`` and ``supernet_epochs``
    resolved, so a resume or a worker runs the same search); ``eopts`` is derived from it once.
    """

    opts: SearchOptions
    eopts: EvaluatorOptions
    space: Space
    evaluator: EvaluatorPlan
    gradient: bool  # DARTS: the gradient driver, whose budget counts epochs
    data: Dataset | None  # None for a table evaluator (it needs neither data nor a target)
    target: Target | None
    settings: StudySettings


def _evaluator_options(opts: SearchOptions) -> EvaluatorOptions:
    from nas.evaluators.factory import EvaluatorOptions

    return EvaluatorOptions(**{f.name: getattr(opts, f.name) for f in fields(EvaluatorOptions)})


@dataclass(frozen=True)
class CheckedSearch:
    """A search's options after :func:`check_search`: ``--evaluator auto`` resolved, the
    space loaded (with its latency input), the evaluator's plan."""

    opts: SearchOptions
    space: Space
    evaluator: EvaluatorPlan
    gradient: bool  # DARTS: the gradient driver, whose budget counts epochs


def check_search(opts: SearchOptions) -> CheckedSearch:
    """Every check of a search that reads neither the data set nor the target: the space, the
    strategy against the space, the evaluator and its options (a table is read), the budget
    against the space's size, the checkpoint folder. What ``nas search`` runs first, and what
    ``nas serve`` runs on a request before it queues it (one source of truth).

    Raises:
        NasInputError: with the line to show; nothing was written.
    """
    from nas.evaluators.factory import AUTO, auto_evaluator, check_evaluator
    from nas.spaces.base import LatencyInput

    space = load_space(opts.space)
    if opts.latency_input is not None:
        space = space.with_latency_input(LatencyInput.parse(opts.latency_input))
    if opts.evaluator == AUTO:  # recorded resolved, so a resume or a worker runs the same
        opts = opts.model_copy(update={"evaluator": auto_evaluator(space, opts.data)})
    evaluator = check_evaluator(_evaluator_options(opts), space)
    gradient = get_strategy(opts.strategy_name).driver == GRADIENT
    if gradient:  # its other options were checked by SearchOptions
        darts.cell_space(space)
    else:
        _check_budget(opts.budget, space)
    if evaluator.kind == "supernet" or opts.checkpoint_dir is not None:
        _check_checkpoint_dir(opts)
    return CheckedSearch(opts, space, evaluator, gradient)


def make_plan(opts: SearchOptions) -> SearchPlan:
    """:func:`check_search`, then the data set and target read and every default resolved.

    Raises:
        NasInputError: bad space, data, option or target; nothing was written.
    """
    from nas.data import default_data, load_for_space

    checked = check_search(opts)
    opts, space, evaluator, gradient = (
        checked.opts,
        checked.space,
        checked.evaluator,
        checked.gradient,
    )
    data, target = None, None
    if evaluator.needs_data:  # a table evaluator needs no data (nor torch, unless it times)
        if opts.data is None:  # recorded by name, so workers and resumes read the same set
            opts = opts.model_copy(update={"data": default_data()})
        data = load_for_space(
            opts.data, space, train_images=opts.train_images, val_images=opts.val_images
        )
        if opts.supernet_epochs is None and not gradient:
            opts = opts.model_copy(update={"supernet_epochs": default_epochs(opts, data)})
    if evaluator.needs_data or evaluator.needs_target:  # networks built and timed on --target
        from nas.hardware import create_target

        target = create_target(opts.target, threads=opts.threads, **timing_options(opts.clock))
        target.fingerprint_id()  # a remote device that is unreachable or refuses is bad input
    settings = _settings(opts, space, evaluator, data)
    eopts = _evaluator_options(opts)
    return SearchPlan(opts, eopts, space, evaluator, gradient, data, target, settings)


def _check_budget(budget: int, space: Space) -> None:
    from nas.strategies.no_repeat import countable_size

    size = countable_size(space)
    if size is not None and budget > size:
        raise OptionError(
            f"--budget {budget} is more than the {size} distinct architectures of "
            f"space {space.name!r}; the budget counts distinct architectures"
        )


def _settings(
    opts: SearchOptions, space: Space, evaluator: EvaluatorPlan, data: Dataset | None
) -> StudySettings:
    """What the study records about how it was made (a resume must match it)."""
    from nas.storage.paths import base_dir, portable_options, portable_record

    base = base_dir(opts.storage)  # paths inside the database's folder are stored relative
    stored = portable_options(opts.model_dump(mode="json"), base)
    return StudySettings(
        space=space.name,
        space_digest=space.digest,
        data=evaluator.data or stored.get("data") or "",
        data_fingerprint=evaluator.data_fingerprint or (data.fingerprint() if data else ""),
        strategy=opts.strategy_name,
        objective=opts.objective,
        target=evaluator.target or opts.target,
        evaluator=portable_record(evaluator.record, base),
        latency_target_ms=opts.latency_target_ms,
        latency_weight=opts.latency_weight,
        max_latency_ms=opts.max_latency_ms,
        seed=opts.seed,
        nas_version=__version__,
        scoring_input=space.scoring_input.text if evaluator.needs_data else "",
        latency_input=(
            space.latency_input.text if evaluator.needs_data or evaluator.needs_target else ""
        ),
        options=stored,
    )


def _study_name(store: Store, plan: SearchPlan) -> str:
    """``--study``, checked as a resume; else the default name for these settings."""
    opts = plan.opts
    if opts.study:
        st.check_resume(store, opts.study, plan.settings)
        return opts.study
    stem = f"{plan.space.name}-{plan.settings.strategy}-{date.today():%Y%m%d}"
    if opts.seed:  # another seed is another search, not a resume of the seed-0 one
        stem += f"-seed{opts.seed}"
    return default_study_name(store, stem, plan.settings)


def _before_study(plan: SearchPlan, store: Store, name: str, rep: Reporter) -> SearchPlan:
    """The driver's last checks before the study is written: a DARTS run cannot resume midway;
    a latency predictor is profiled, fitted and validated (a refused fit writes no study)."""
    if plan.gradient:
        darts.check_resume(store, name, plan.opts.budget)
        return plan
    if plan.evaluator.prebuilt is None and plan.target is not None:
        from nas.evaluators.factory import latency_predictor

        classes = plan.data.num_classes if plan.data is not None else plan.evaluator.num_classes
        assert classes is not None
        predictor = latency_predictor(plan.eopts, plan.space, plan.target, store, classes, rep)
        return replace(plan, evaluator=replace(plan.evaluator, predictor=predictor))
    return plan


def run_search(
    opts: SearchOptions, reporter: Reporter | None = None, *, seed_salt: int = 0
) -> SearchResult:
    """Run (or resume) a search; see the module docstring.

    ``seed_salt`` is added to the sampler's seed (workers pass their PID so that they do not
    all propose the same sequence).

    Raises:
        NasInputError: bad space, data, option or storage; nothing was written.
    """
    rep = reporter or SilentReporter()
    t_start = time.perf_counter()
    plan = make_plan(opts)  # everything checked before the storage is touched
    store = Store(opts.storage)
    name = _study_name(store, plan)
    plan = _before_study(plan, store, name, rep)
    study = st.create_or_resume(store, name, plan.settings, opts.budget)
    if not plan.gradient:
        _enqueue_anchors(study, plan.space, opts.budget)
        if opts.warm_start is not None:
            _warm_start(plan, study, rep)
    seconds: dict[str, float] = {"supernet": 0.0, "evaluation": 0.0, "latency": 0.0}
    done = st.count_complete(study)
    result = SearchResult(name, opts.storage, opts.budget, done, [], plan.settings, "", seconds)
    try:
        if done < opts.budget:
            _drive(plan, store, study, result, rep, seed_salt)
    except KeyboardInterrupt:
        result.interrupted = True
        log.warning("interrupted; the running trial is marked failed (fail_reason=interrupted)")
    complete = st.complete_trials(study)
    seconds["total"] = time.perf_counter() - t_start
    result.completed = len(complete)
    result.front = pareto_front(complete, opts.max_latency_ms)
    return result


def _drive(
    plan: SearchPlan,
    store: Store,
    study: optuna.Study,
    result: SearchResult,
    rep: Reporter,
    seed_salt: int,
) -> None:
    """Hand the study to its driver: DARTS's, local worker processes, or the sampler loop."""
    opts = plan.opts
    if plan.gradient:
        assert plan.data is not None and plan.target is not None
        rep.message(f"data: {plan.data.summary()}")
        result.seconds.update(
            darts.run_darts(
                _darts_run(opts),
                plan.space,
                plan.data,
                plan.target,
                store,
                study,
                plan.settings,
                rep,
            )
        )
        result.supernet = "darts"
    elif opts.workers > 1:
        from nas.search.pool import run_local_workers

        rep.search_started(study.study_name, result.completed, opts.budget)
        result.worker_status = run_local_workers(
            opts.storage, study.study_name, opts.workers, study, opts.budget, rep
        )
    else:
        _drive_sampler(plan, store, study, result, rep, seed_salt)


def _enqueue_anchors(study: optuna.Study, space: Space, budget: int) -> None:
    """A new study's first trials are the space's anchors (largest and smallest, see
    :meth:`~nas.spaces.base.Space.anchors`), whatever the strategy: they count in the budget."""
    if study.get_trials(deepcopy=False):
        return
    anchors = space.anchors()[:budget]
    # recorded (before they are queued: a resume after a crash here records them again), so
    # that every screen can mark the trials that scored them; the largest comes first
    hashes = (space.hash(a) for a in anchors)
    st.record_anchors(study, dict(zip(hashes, ("largest", "smallest"), strict=False)))
    for arch in anchors:
        study.enqueue_trial(space.to_params(arch), skip_if_exists=True)


def _warm_start(plan: SearchPlan, study: optuna.Study, rep: Reporter) -> None:
    """``--warm-start``: the pre-screen's picks enqueued after the anchors, once per study."""
    from nas.evaluators.table import TABLE_CLASSES
    from nas.search import warm_start as ws

    opts = plan.opts
    assert opts.warm_start is not None
    if plan.data is not None:
        classes = plan.data.num_classes
    else:
        classes = plan.evaluator.num_classes or TABLE_CLASSES
    ws.enqueue(
        study,
        plan.space,
        ws.WarmStartSpec.parse(opts.warm_start),
        budget=opts.budget,
        seed=opts.seed,
        num_classes=classes,
        latency=ws.latency_source(plan.evaluator, plan.space),
        reporter=rep,
    )


def _darts_run(opts: SearchOptions) -> darts.DartsRun:
    """The gradient driver's own config, from the search options."""
    from nas.storage.paths import checkpoint_folder
    from nas.supernet.darts_search import DartsConfig

    cfg = DartsConfig(
        epochs=opts.budget,
        batch_size=min(opts.batch_size, 64),
        arch_lr=opts.darts_arch_lr,
        order=opts.darts_order,
        latency_weight=opts.darts_latency_weight,
        seed=opts.seed,
    )
    return darts.DartsRun(
        cfg, opts.calib_batches, opts.seed, checkpoint_folder(opts.checkpoint_dir, opts.storage)
    )


def _drive_sampler(
    plan: SearchPlan,
    store: Store,
    study: optuna.Study,
    result: SearchResult,
    rep: Reporter,
    seed_salt: int,
) -> None:
    """Evaluate candidates in this process until the study holds its budget."""
    from nas.evaluators.factory import build_evaluator

    opts, space = plan.opts, plan.space
    if plan.data is not None:
        rep.message(f"data: {plan.data.summary()}")
    evaluator, info = build_evaluator(
        plan.eopts, space, plan.data, plan.target, store, rep, plan.evaluator
    )
    result.seconds["supernet"] = info.get("seconds", 0.0)
    result.supernet = info.get("supernet", "")
    n_trials_before = len(study.get_trials(deepcopy=False))
    snapshot = TrialSnapshot(study)  # the loop's one read per trial, shared with the sampler
    ctx = StrategyContext(
        n_objectives=opts.n_objectives,
        # a resumed study must not replay old proposals, nor two workers each other's
        seed=opts.seed + n_trials_before + seed_salt,
        budget=opts.budget,
        constraints_func=constraints if opts.max_latency_ms is not None else None,
        space=space,
        claim=arch_claimer(store, study.study_name),
        trials=lambda: snapshot.with_states(TrialState.COMPLETE, TrialState.RUNNING),
    )
    study.sampler = create_sampler(result.settings.strategy, ctx)
    objective = TrialObjective(
        space,
        evaluator,
        result.settings,
        study,
        store=store,
        budget=opts.budget,
        snapshot=snapshot,
    )
    rep.search_started(study.study_name, st.count_complete(study), opts.budget)
    try:
        result.completed_here = optimize_until_budget(
            study, objective, opts.budget, rep, opts.max_latency_ms
        )
    finally:
        result.seconds.update(objective.seconds)


def arch_claimer(store: Store, study_name: str) -> Callable[[FrozenTrial, str], bool]:
    """``claim(trial, arch_hash)`` for the no-repeat sampler: an atomic claim in the database."""
    from nas.storage.coordination import claim_arch
    from nas.storage.optuna_compat import trial_id

    def claim(trial: FrozenTrial, arch_hash: str) -> bool:
        return claim_arch(store, study_name, arch_hash, trial_id(trial))[0] == "mine"

    return claim


def run_worker(storage: str, study_name: str, reporter: Reporter | None = None) -> SearchResult:
    """Join study ``study_name`` and evaluate candidates until it holds its budget.

    Everything else (space, data, strategy, target, evaluator options) comes from the options
    the study was created with; the data set must be readable here and have the same content.

    Raises:
        NasInputError: no such study, not made by nas, or its inputs are not available here.
    """
    from sqlalchemy.exc import SQLAlchemyError

    reader = Store(storage, read_only=True)  # never creates a database for a wrong name
    try:
        study = st.load(reader, study_name)
    except SQLAlchemyError:
        raise StorageError(f"{storage} holds no nas studies; create one with nas search") from None
    settings = st.settings_of(study)
    budget = study.user_attrs.get(keys.BUDGET)
    if settings is None or not settings.options or not isinstance(budget, int):
        raise StorageError(
            f"study {study_name!r} was not made by this version of nas search; "
            "workers can only join studies made by nas search"
        )
    fields = SearchOptions.model_fields
    unknown = sorted(set(settings.options) - set(fields))
    if unknown:
        log.warning("ignoring options this nas version does not know: %s", ", ".join(unknown))
    # only the options that differ from the defaults count as given (a DARTS study stores
    # supernet_epochs too, which a DARTS search refuses when it is given)
    from nas.storage.paths import base_dir, local_options

    here = local_options(settings.options, base_dir(storage))  # stored paths, resolved here
    options = {k: v for k, v in here.items() if k in fields and v != fields[k].default}
    options.pop("workers", None)  # a worker is one process (the default)
    options.update(storage=storage, study=study_name, budget=budget)
    opts = SearchOptions(**options)
    return run_search(opts, reporter, seed_salt=os.getpid())
