"""The strategy plug-in interface: a strategy is a factory for an Optuna sampler, or a
gradient driver (DARTS) that derives its candidates itself.

Every strategy proposes architectures through an Optuna study, so its trials are stored,
resumed and displayed like every other's. Register one with :func:`register_strategy` in a
module of its own and import that module in :mod:`nas.strategies.builtins`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import optuna
from optuna.trial import FrozenTrial

from nas.errors import OptionError
from nas.limits import shorten

if TYPE_CHECKING:
    from nas.spaces import Space

ConstraintsFunc = Callable[[FrozenTrial], Sequence[float]]


@dataclass(frozen=True)
class StrategyContext:
    """What a sampler factory may use: objectives, seed, budget, the constraint function and
    the search space (strategies that mutate or enumerate architectures need it).

    ``claim(trial, arch_hash)`` claims an architecture for a trial atomically in the database
    (True: this trial owns it); the no-repeat wrapper uses it so that workers racing for the
    same architecture never both evaluate it (:mod:`nas.strategies.no_repeat`).
    """

    n_objectives: int
    seed: int
    budget: int
    constraints_func: ConstraintsFunc | None
    space: Space | None = None
    claim: Callable[[FrozenTrial, str], bool] | None = None
    # the study's COMPLETE and RUNNING trials as the trial loop last read them (it reads once
    # per trial, nas.storage.snapshot); None: the sampler reads the study itself
    trials: Callable[[], Sequence[FrozenTrial]] | None = None


class SamplerFactory(Protocol):
    def __call__(self, ctx: StrategyContext) -> optuna.samplers.BaseSampler: ...


@dataclass(frozen=True)
class Strategy:
    name: str
    factory: SamplerFactory | None  # None for a gradient driver
    help: str
    objectives: tuple[int, ...] = (1, 2)
    # True when the sampler itself avoids architectures the study already has: the no-repeat
    # wrapper then takes its one proposal per trial as it is, and steps in (neighbours, claim)
    # only when that proposal is taken.
    avoids_repeats: bool = False
    # "sampler": an Optuna sampler proposes candidates (nas.search.loop); "gradient": the strategy
    # derives them by gradient descent on architecture weights (DARTS); see nas.search.options
    driver: str = "sampler"
    budget_unit: str = "completed candidate evaluations"
    default_budget: int = 200


_STRATEGIES: dict[str, Strategy] = {}


def register_strategy(strategy: Strategy) -> None:
    _STRATEGIES[strategy.name] = strategy


def strategy_names() -> list[str]:
    from nas.strategies import builtins  # noqa: F401

    return sorted(_STRATEGIES)


def get_strategy(name: str) -> Strategy:
    names = strategy_names()
    if name not in _STRATEGIES:
        raise OptionError(
            f"unknown strategy {shorten(name)}; known strategies: {', '.join(names)}"
        )
    return _STRATEGIES[name]


def default_strategy(n_objectives: int) -> str:
    """NSGA-II for two objectives, TPE for one."""
    return "nsga2" if n_objectives > 1 else "tpe"


def create_sampler(name: str, ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    """The sampler of strategy ``name``; raises OptionError for unknown or unsuitable ones."""
    strategy = get_strategy(name)
    if ctx.n_objectives not in strategy.objectives:
        raise OptionError(
            f"strategy {shorten(name)} does not support {ctx.n_objectives} objective(s)"
        )
    if strategy.factory is None:
        raise OptionError(f"strategy {name!r} is {strategy.driver}-driven, not an Optuna sampler")
    sampler = strategy.factory(ctx)
    if ctx.space is not None:
        from nas.strategies.no_repeat import NoRepeatSampler

        tries = 1 if strategy.avoids_repeats else 20  # its redraws would repeat themselves
        sampler = NoRepeatSampler(
            sampler, ctx.space, seed=ctx.seed, max_tries=tries, claim=ctx.claim, trials=ctx.trials
        )
    return sampler
