"""``nas search``: one supernet, a budget of candidates, everything in an Optuna study.

The flow: validate every input (space, data, options, storage) before writing anything; open
or resume the study; build the evaluator (train the supernet or load its checkpoint); then let
the strategy's sampler propose architectures until the study holds ``budget`` complete trials.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date

from optuna.trial import FrozenTrial

import nas
from nas.errors import NasInputError, OptionError
from nas.evaluators.base import LATENCY_MODES
from nas.loop import optimize_until_budget
from nas.objective import TrialObjective, constraints
from nas.spaces import load_space
from nas.storage import Store
from nas.storage import studies as st
from nas.storage.results import pareto_front
from nas.storage.studies import StudySettings
from nas.strategies import StrategyContext, create_sampler, default_strategy, get_strategy

log = logging.getLogger(__name__)


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
    evaluator: str = "supernet"
    supernet_epochs: int = 20
    batch_size: int = 128
    calib_batches: int = 4
    checkpoint_dir: str | None = None
    latency: str = "measured"  # "measured" | "predicted" | "hybrid" (nas.evaluators.latency)
    clock: str = "wall"  # "wall" | "cpu" (nas.hardware.timing)

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise OptionError(f"--budget must be at least 1, got {self.budget}")
        if self.objective not in ("pareto", "weighted"):
            raise OptionError(f"--objective must be pareto or weighted, got {self.objective!r}")
        if self.objective == "weighted" and not (self.latency_target_ms or 0) > 0:
            raise OptionError("--objective weighted needs --latency-target-ms T with T > 0")
        if self.max_latency_ms is not None and self.max_latency_ms <= 0:
            raise OptionError(f"--max-latency-ms must be > 0, got {self.max_latency_ms}")
        if self.calib_batches < 1:
            raise OptionError(f"--calib-batches must be >= 1, got {self.calib_batches}")
        if self.supernet_epochs < 1:
            raise OptionError(f"--supernet-epochs must be >= 1, got {self.supernet_epochs}")
        if self.strategy is not None:
            get_strategy(self.strategy)
        if self.latency not in LATENCY_MODES:
            raise OptionError(
                f"--latency must be one of {', '.join(LATENCY_MODES)}, got {self.latency!r}"
            )

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
    supernet: str = ""  # "trained" | "loaded" | "" (not needed)
    seconds: dict[str, float] = field(default_factory=dict)


def timing_options(clock: str) -> dict[str, object]:
    """``create_target`` options for ``--clock`` (none for the default wall clock)."""
    if clock == "wall":
        return {}
    from nas.hardware import TimingConfig

    return {"timing": TimingConfig(clock=clock)}


def default_study_name(store: Store, base: str, settings: StudySettings) -> str:
    """``space-strategy-YYYYMMDD``; a same-day study with other settings gets ``-2``, ``-3``..."""
    name, n = base, 1
    while True:
        try:
            st.check_resume(store, name, settings)
            return name
        except NasInputError:
            n += 1
            name = f"{base}-{n}"


def run_search(opts: SearchOptions, reporter: Reporter | None = None) -> SearchResult:
    """Run (or resume) a search; see the module docstring.

    Raises:
        NasInputError: bad space, data, option or storage; nothing was written.
    """
    from nas.data import fit_to_space, load_data
    from nas.evaluators.factory import build_evaluator, check_evaluator
    from nas.hardware import create_target

    rep = reporter or Reporter()
    t_start = time.perf_counter()
    # ---- validate everything before touching the storage -----------------------------------
    space = load_space(opts.space)
    check_evaluator(opts, space)
    data = fit_to_space(
        load_data(opts.data), channels=space.input_channels, resolution=space.train_resolution
    )
    target = create_target(opts.target, threads=opts.threads, **timing_options(opts.clock))
    target.fingerprint_id()  # a remote device that is unreachable or refuses is bad input
    settings = StudySettings(
        space=space.name,
        space_digest=space.digest,
        data=opts.data or "digits",
        data_fingerprint=data.fingerprint(),
        strategy=opts.strategy_name,
        objective=opts.objective,
        target=opts.target,
        evaluator=opts.evaluator,
        latency_target_ms=opts.latency_target_ms,
        latency_weight=opts.latency_weight,
        max_latency_ms=opts.max_latency_ms,
        seed=opts.seed,
        nas_version=nas.__version__,
        options=asdict(opts),
    )
    store = Store(opts.storage)
    if opts.study:
        name = opts.study
        st.check_resume(store, name, settings)
    else:
        base = f"{space.name}-{settings.strategy}-{date.today():%Y%m%d}"
        name = default_study_name(store, base, settings)
    # ---- study ---------------------------------------------------------------------------
    study = st.create_or_resume(store, name, settings, opts.budget)
    done = st.count_complete(study)
    seconds: dict[str, float] = {"supernet": 0.0, "evaluation": 0.0, "latency": 0.0}
    result = SearchResult(name, opts.storage, opts.budget, done, [], settings, "", seconds)
    if done < opts.budget:
        rep.message(f"data: {data.summary()}")
        evaluator, info = build_evaluator(opts, space, data, target, store, rep)
        seconds["supernet"] = info.get("seconds", 0.0)
        result.supernet = info.get("supernet", "")
        n_trials_before = len(study.get_trials(deepcopy=False))
        ctx = StrategyContext(
            n_objectives=opts.n_objectives,
            seed=opts.seed + n_trials_before,  # a resumed study must not replay old proposals
            budget=opts.budget,
            constraints_func=constraints if opts.max_latency_ms is not None else None,
        )
        study.sampler = create_sampler(settings.strategy, ctx)
        objective = TrialObjective(space, evaluator, settings, study)
        rep.search_started(name, done, opts.budget)
        optimize_until_budget(study, objective, opts.budget, rep, opts.max_latency_ms)
        seconds.update(objective.seconds)
    complete = st.complete_trials(study)
    seconds["total"] = time.perf_counter() - t_start
    result.completed = len(complete)
    result.front = pareto_front(complete, opts.max_latency_ms)
    return result
