"""Regularized (aging) evolution as an Optuna sampler.

Real, Aggarwal, Huang and Le, "Regularized Evolution for Image Classifier Architecture
Search" (AAAI 2019, the AmoebaNet paper). The population is the ``population_size`` most
recent completed trials; each new child is made by *tournament selection* (draw
``sample_size`` members at random, take the best) followed by *one mutation* (exactly one
active choice changes, through :meth:`nas.spaces.Space.mutate`). Because the population is a
window over the newest trials, the oldest member leaves when a child joins, whatever its
score: the "aging" that regularises the search.

All durable state lives in the study: the population is read from the stored trials every
time (the last ``population_size`` COMPLETE trials numbered below the new one, in
trial-number order; failed trials never join), so a resumed study and several workers sharing
one study see the same population. The only state in the object is the seed; the generator of
trial *n* is derived from ``(seed, n)``, so a proposal depends on the seed, the trial number
and the stored trials alone. Each child records its parent's number in the trial system
attribute ``evolution:parent``.

Selection by fitness:
- one objective: the trial's value (in the study's direction);
- two objectives (accuracy up, latency down): Pareto rank, then crowding distance, both
  computed over the whole population as in NSGA-II (Deb et al., 2002), larger distance better;
- with a constraint function: feasible members first; infeasible ones ranked last, the less
  violating first (Deb's constrained domination).

Until the study holds ``population_size`` completed trials, children are uniformly random.
A child identical to an architecture the study already holds is re-drawn (a new tournament
and mutation, at most ``max_retries`` times) because re-scoring a known network spends budget
on nothing; after that the duplicate is accepted, and the objective reuses its stored result.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas import pareto
from nas.errors import OptionError
from nas.spaces import Space
from nas.spaces.base import Arch
from nas.spaces.optuna_adapter import distributions
from nas.storage import optuna_compat as compat
from nas.strategies.base import Strategy, StrategyContext, register_strategy

log = logging.getLogger(__name__)

ConstraintsFunc = Callable[[FrozenTrial], Sequence[float]]
PARENT_KEY = "evolution:parent"  # trial system attribute: number of the mutated parent


def default_sizes(budget: int) -> tuple[int, int]:
    """Population and tournament size for a budget.

    A twentieth of the budget, between 10 and 100, with a tournament of a quarter of it: the
    paper's 100/25 at its budget of thousands, NAS-Bench-201's REA setting (10/3) at 200.
    """
    population = max(10, min(100, budget // 20))
    return population, max(2, math.ceil(population / 4))


class RegularizedEvolutionSampler(optuna.samplers.BaseSampler):
    """Aging evolution over the architectures of ``space`` (see the module docstring).

    Args:
        space: the search space; it owns sampling and mutation.
        population_size: trials in the population window (at least 2).
        sample_size: tournament size, 1 <= sample_size <= population_size.
        seed: seed of every random decision (None: a random seed).
        constraints_func: Optuna-style constraints (<= 0 feasible); infeasible trials rank last.
        max_retries: re-draws of a child that duplicates a stored architecture.
    """

    def __init__(
        self,
        space: Space,
        *,
        population_size: int = 10,
        sample_size: int = 3,
        seed: int | None = None,
        constraints_func: ConstraintsFunc | None = None,
        max_retries: int = 10,
    ) -> None:
        if population_size < 2:
            raise ValueError(f"population_size must be at least 2, got {population_size}")
        if not 1 <= sample_size <= population_size:
            raise ValueError(
                f"sample_size must be in [1, population_size={population_size}], got {sample_size}"
            )
        self.space = space
        self.population_size = population_size
        self.sample_size = sample_size
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.constraints_func = constraints_func
        self.max_retries = max_retries
        self._search_space = distributions(space)
        self._encoded: dict[int, str] = {}  # trial id -> canonical JSON; a cache, not state

    # ---- Optuna sampler interface --------------------------------------------------------
    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        # The whole architecture is proposed at once, so every label is relative.
        return dict(self._search_space)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        rng = self._rng(trial.number)
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        complete = [t for t in complete if t.number < trial.number]
        if len(complete) < self.population_size:
            child = self.space.sample(rng)
        else:
            population = sorted(complete, key=lambda t: t.number)[-self.population_size :]
            parent, child = self.propose(study, population, complete, rng)
            # The lineage, where Optuna's NSGA-II keeps its own ("nsga2:parents").
            compat.set_trial_system_attr(study, trial, PARENT_KEY, parent.number)
        params = self.space.to_params(child)
        return {k: v for k, v in params.items() if k in search_space}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        # Only reached for parameters outside the space (an objective asking for more).
        choices = getattr(param_distribution, "choices", None)
        if choices is None:
            raise ValueError(f"evolution samples categorical choices only, not {param_name!r}")
        return self._rng(trial.number, param_name).choice(list(choices))

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self.constraints_func is not None:
            # Store the constraint values where Optuna's own samplers and dashboard look.
            compat.store_constraints(self.constraints_func, study, trial, state)

    # ---- evolution ---------------------------------------------------------------------
    def propose(
        self,
        study: optuna.Study,
        population: list[FrozenTrial],
        complete: list[FrozenTrial],
        rng: random.Random,
    ) -> tuple[FrozenTrial, Arch]:
        """A tournament winner and its one-mutation child, re-drawn while the child duplicates
        a stored architecture (at most ``max_retries`` times)."""
        order = self.ranking(study, population)
        seen = {self._encode(t) for t in complete}
        for _ in range(self.max_retries + 1):
            contestants = rng.sample(range(len(population)), self.sample_size)
            parent = population[min(contestants, key=order.__getitem__)]
            child = self.space.mutate(self.arch_of(parent), rng)
            if self.space.encode(child) not in seen:
                break
        return parent, child

    def arch_of(self, trial: FrozenTrial) -> Arch:
        """The canonical architecture a stored trial was proposed with."""
        return self.space.from_params(trial.params)

    def _encode(self, trial: FrozenTrial) -> str:
        # Completed trials never change, so their encoding is computed once per process.
        key = compat.trial_id(trial)
        if key not in self._encoded:
            self._encoded[key] = self.space.encode(self.arch_of(trial))
        return self._encoded[key]

    def ranking(self, study: optuna.Study, population: list[FrozenTrial]) -> list[int]:
        """Position of each member in the fitness order (0 = fittest) of ``population``."""
        keys = fitness_keys(population, study.directions, self.constraints_func)
        order = sorted(range(len(population)), key=keys.__getitem__)
        position = [0] * len(population)
        for pos, i in enumerate(order):
            position[i] = pos
        return position

    def _rng(self, number: int, salt: str = "") -> random.Random:
        # A string seed is hashed with SHA-512 by `random`, so this is stable across runs.
        return random.Random(f"evolution:{self.seed}:{number}:{salt}")


def fitness_keys(
    trials: list[FrozenTrial],
    directions: Sequence[StudyDirection],
    constraints_func: ConstraintsFunc | None = None,
) -> list[tuple[float, float, float, float]]:
    """Sort keys (smaller = fitter): infeasible, violation, Pareto rank, -crowding distance.

    Values are turned into losses (negated where the study maximises) so that one rule serves
    every direction; a single objective is its own rank (the loss) with crowding 0.
    """
    losses = [
        [
            v if d == StudyDirection.MINIMIZE else -v
            for v, d in zip(t.values, directions, strict=True)
        ]
        for t in trials
    ]
    violation = [0.0] * len(trials)
    if constraints_func is not None:
        violation = [sum(max(0.0, float(c)) for c in constraints_func(t)) for t in trials]
    # A trial without finite losses cannot be ranked (nas.pareto refuses it): it comes after
    # the ranked feasible ones.
    ok = [
        v == 0.0 and all(math.isfinite(x) for x in loss)
        for v, loss in zip(violation, losses, strict=True)
    ]
    feasible = [i for i in range(len(trials)) if ok[i]]
    rank = [math.inf] * len(trials)
    crowd = [0.0] * len(trials)
    if len(directions) == 1:
        for i in feasible:
            rank[i] = losses[i][0]
    else:
        for r, members in enumerate(pareto.feasible_fronts(losses, ok)):
            for i, d in zip(members, pareto.crowding([losses[i] for i in members]), strict=True):
                rank[i], crowd[i] = r, d
    return [
        (float(violation[i] > 0), violation[i], rank[i], -crowd[i]) for i in range(len(trials))
    ]


def _evolution(ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    if ctx.space is None:
        raise OptionError("strategy 'evolution' needs the search space in its StrategyContext")
    population, sample = default_sizes(ctx.budget)
    return RegularizedEvolutionSampler(
        ctx.space,
        population_size=population,
        sample_size=sample,
        seed=ctx.seed,
        constraints_func=ctx.constraints_func,
    )


register_strategy(
    Strategy(
        "evolution",
        _evolution,
        "regularized (aging) evolution: tournament, one mutation per child, oldest out",
        avoids_repeats=True,
    )
)
