"""``nas search``: one supernet, a budget of candidates, everything in an Optuna study.

The flow: validate every input (space, data, options, storage) before writing anything; open
or resume the study; train the supernet or load its checkpoint; then let the strategy's
sampler propose architectures until the study holds ``budget`` complete trials.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

import nas
from nas.errors import NasInputError, OptionError
from nas.evaluators.base import CandidateError, Evaluation, Evaluator
from nas.spaces import Space, load_space
from nas.spaces.optuna_adapter import suggest
from nas.storage import Store, keys
from nas.storage import studies as st
from nas.storage.results import best_accuracy, pareto_front
from nas.storage.studies import StudySettings
from nas.strategies import StrategyContext, create_sampler, default_strategy, get_strategy

log = logging.getLogger(__name__)
MAX_CONSECUTIVE_FAILURES = 5


@dataclass(frozen=True)
class SearchOptions:
    """Everything ``nas search`` takes; validated on construction."""

    space: str = "mobile"
    budget: int = 200
    strategy: str | None = None
    data: str | None = None
    storage: str = "sqlite:///studies.db"
    study: str | None = None
    seed: int = 0
    objective: str = "pareto"  # "pareto" | "weighted"
    latency_target_ms: float | None = None
    latency_weight: float = -0.07
    max_latency_ms: float | None = None
    target: str = "cpu"
    threads: int | None = None
    supernet_epochs: int = 20
    batch_size: int = 128
    calib_batches: int = 4
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise OptionError(f"--budget must be at least 1, got {self.budget}")
        if self.objective not in ("pareto", "weighted"):
            raise OptionError(f"--objective must be pareto or weighted, got {self.objective!r}")
        if self.objective == "weighted":
            if self.latency_target_ms is None or self.latency_target_ms <= 0:
                raise OptionError("--objective weighted needs --latency-target-ms T with T > 0")
        if self.max_latency_ms is not None and self.max_latency_ms <= 0:
            raise OptionError(f"--max-latency-ms must be > 0, got {self.max_latency_ms}")
        if self.calib_batches < 1:
            raise OptionError(f"--calib-batches must be >= 1, got {self.calib_batches}")
        if self.strategy is not None:
            get_strategy(self.strategy)

    @property
    def n_objectives(self) -> int:
        return 2 if self.objective == "pareto" else 1

    @property
    def strategy_name(self) -> str:
        return self.strategy or default_strategy(self.n_objectives)


class Reporter:
    """Progress hooks; the CLI renders them, the library ignores them by default."""

    def message(self, text: str) -> None: ...
    def training_step(self, step: int, total: int, loss: float) -> None: ...
    def search_started(self, study: str, done: int, budget: int) -> None: ...
    def trial_done(
        self, done: int, budget: int, trial: FrozenTrial, best: float | None, front: int
    ) -> None: ...


@dataclass
class SearchResult:
    study_name: str
    storage: str
    budget: int
    completed: int
    front: list[FrozenTrial]
    settings: StudySettings
    supernet: str = ""  # "trained" | "loaded" | ""
    seconds: dict[str, float] = field(default_factory=dict)


def weighted_score(acc: float, latency_ms: float, target_ms: float, w: float) -> float:
    """MnasNet (Tan et al., 2019): ``accuracy * (latency / target) ** w``."""
    return acc * (latency_ms / target_ms) ** w


def _default_study_name(store: Store, base: str, settings: StudySettings) -> str:
    """``space-strategy-YYYYMMDD``; a same-day study with other settings gets ``-2``, ``-3``..."""
    name, n = base, 1
    while True:
        try:
            st.check_resume(store, name, settings)
            return name
        except NasInputError:
            n += 1
            name = f"{base}-{n}"


class _Objective:
    """The Optuna objective: suggest, reuse a finished duplicate or evaluate, record."""

    def __init__(
        self, space: Space, evaluator: Evaluator, settings: StudySettings, study: optuna.Study
    ) -> None:
        self.space = space
        self.evaluator = evaluator
        self.settings = settings
        self.done: dict[str, FrozenTrial] = {
            str(t.user_attrs[keys.ARCH_HASH]): t
            for t in st.complete_trials(study)
            if keys.ARCH_HASH in t.user_attrs
        }
        self.seconds = {"evaluation": 0.0, "latency": 0.0}

    def values(self, ev: Evaluation) -> list[float] | float:
        if self.settings.objective == "pareto":
            return [ev.accuracy, ev.latency_ms]
        assert self.settings.latency_target_ms is not None
        return weighted_score(
            ev.accuracy, ev.latency_ms, self.settings.latency_target_ms, self.settings.latency_weight
        )

    def __call__(self, trial: optuna.Trial) -> list[float] | float:
        arch = suggest(trial, self.space)
        h = self.space.hash(arch)
        trial.set_user_attr(keys.ARCH, arch)
        trial.set_user_attr(keys.ARCH_HASH, h)
        trial.set_user_attr(keys.ARCH_STR, self.space.describe(arch))
        previous = self.done.get(h)
        if previous is not None:
            # The same network was scored already: reuse its result instead of re-measuring.
            ev = Evaluation(
                float(previous.user_attrs[keys.ACCURACY]),
                float(previous.user_attrs[keys.LATENCY_MS]),
                {k: v for k, v in previous.user_attrs.items() if k not in (keys.ARCH, keys.ARCH_HASH, keys.ARCH_STR, keys.DUPLICATE_OF)},
            )
            trial.set_user_attr(keys.DUPLICATE_OF, previous.number)
        else:
            try:
                ev = self.evaluator.evaluate(arch, h)
            except CandidateError as exc:
                trial.set_user_attr("fail_reason", str(exc))
                raise
            self.seconds["evaluation"] += float(ev.attrs.get(keys.EVAL_SECONDS, 0.0))
            self.seconds["latency"] += float(ev.attrs.get(keys.LATENCY_SECONDS, 0.0))
        for k, v in ev.attrs.items():
            trial.set_user_attr(k, v)
        trial.set_user_attr(keys.ACCURACY, ev.accuracy)
        trial.set_user_attr(keys.LATENCY_MS, ev.latency_ms)
        if self.settings.max_latency_ms is not None:
            trial.set_user_attr(keys.CONSTRAINT, [ev.latency_ms - self.settings.max_latency_ms])
        return self.values(ev)

    def remember(self, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE and keys.ARCH_HASH in trial.user_attrs:
            self.done.setdefault(str(trial.user_attrs[keys.ARCH_HASH]), trial)


def constraints(trial: FrozenTrial) -> list[float]:
    """Optuna constraint values of a trial (<= 0 is feasible); unconstrained studies give 0."""
    return list(trial.user_attrs.get(keys.CONSTRAINT, [0.0]))


def run_search(opts: SearchOptions, reporter: Reporter | None = None) -> SearchResult:
    """Run (or resume) a search; see the module docstring.

    Raises:
        NasInputError: bad space, data, option or storage; nothing was written.
    """
    import torch

    from nas.checkpoint import default_directory, obtain_supernet
    from nas.data import fit_to_space, load_data
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.hardware import create_target
    from nas.storage.latency_cache import LatencyCache
    from nas.supernet.train import TrainConfig

    rep = reporter or Reporter()
    t_start = time.perf_counter()
    # ---- validate everything before touching the storage -----------------------------------
    space = load_space(opts.space)
    data = fit_to_space(
        load_data(opts.data), channels=space.input_channels, resolution=space.train_resolution
    )
    target = create_target(opts.target, threads=opts.threads)
    train_cfg = TrainConfig(epochs=opts.supernet_epochs, batch_size=opts.batch_size, seed=opts.seed)
    settings = StudySettings(
        space=space.name,
        space_digest=space.digest,
        data=opts.data or "digits",
        data_fingerprint=data.fingerprint(),
        strategy=opts.strategy_name,
        objective=opts.objective,
        target=opts.target,
        latency_target_ms=opts.latency_target_ms,
        latency_weight=opts.latency_weight,
        max_latency_ms=opts.max_latency_ms,
        seed=opts.seed,
        nas_version=nas.__version__,
    )
    store = Store(opts.storage)
    if opts.study:
        name = opts.study
        st.check_resume(store, name, settings)
    else:
        base = f"{space.name}-{settings.strategy}-{date.today():%Y%m%d}"
        name = _default_study_name(store, base, settings)
    rep.message(f"data: {data.summary()}")
    # ---- supernet ------------------------------------------------------------------------
    study = st.create_or_resume(store, name, settings, opts.budget)
    done = st.count_complete(study)
    seconds: dict[str, float] = {"supernet": 0.0, "evaluation": 0.0, "latency": 0.0}
    supernet_status = ""
    result = SearchResult(name, opts.storage, opts.budget, done, [], settings, "", seconds)
    if done >= opts.budget:
        result.front = pareto_front(st.complete_trials(study), opts.max_latency_ms)
        return result
    torch.manual_seed(opts.seed)
    directory = Path(opts.checkpoint_dir) if opts.checkpoint_dir else default_directory(opts.storage)
    t0 = time.perf_counter()
    supernet, supernet_status = obtain_supernet(
        store, space, data, train_cfg, directory=directory, on_step=rep.training_step
    )
    seconds["supernet"] = time.perf_counter() - t0
    rep.message(f"supernet {supernet_status} ({seconds['supernet']:.1f} s)")
    evaluator = SupernetEvaluator(
        space, supernet, data, target, cache=LatencyCache(store),
        calib_batches=opts.calib_batches, seed=opts.seed,
    )
    # ---- search --------------------------------------------------------------------------
    n_trials_before = len(study.get_trials(deepcopy=False))
    ctx = StrategyContext(
        n_objectives=opts.n_objectives,
        # a resumed study must not replay the proposals of the first run
        seed=opts.seed + n_trials_before,
        budget=opts.budget,
        constraints_func=constraints if opts.max_latency_ms is not None else None,
    )
    study.sampler = create_sampler(settings.strategy, ctx)
    objective = _Objective(space, evaluator, settings, study)
    rep.search_started(name, done, opts.budget)

    def after(study: optuna.Study, trial: FrozenTrial) -> None:
        objective.remember(trial)
        complete = st.complete_trials(study)
        front = pareto_front(complete, opts.max_latency_ms)
        rep.trial_done(len(complete), opts.budget, trial, best_accuracy(complete, opts.max_latency_ms), len(front))
        if len(complete) >= opts.budget:
            study.stop()

    failures = 0
    while (done := st.count_complete(study)) < opts.budget:
        before = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        study.optimize(objective, n_trials=opts.budget - done, catch=(CandidateError,), callbacks=[after])
        failed_now = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - before
        failures = failures + failed_now if failed_now else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise CandidateError(f"{failures} candidates failed in a row; see the trials' fail_reason")
    complete = st.complete_trials(study)
    seconds.update(objective.seconds)
    seconds["total"] = time.perf_counter() - t_start
    result.completed = len(complete)
    result.front = pareto_front(complete, opts.max_latency_ms)
    result.supernet = supernet_status
    return result
