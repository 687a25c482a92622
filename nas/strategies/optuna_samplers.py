"""Optuna's own samplers as strategies: random search, TPE and NSGA-II."""

from __future__ import annotations

import optuna

from nas.strategies.base import Strategy, StrategyContext, register_strategy


def _random(ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=ctx.seed)


def _tpe(ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(
        seed=ctx.seed,
        multivariate=True,
        n_startup_trials=min(20, max(5, ctx.budget // 10)),
        constraints_func=ctx.constraints_func,
    )


def nsga2_population(budget: int) -> int:
    """NSGA-II's population for a budget (also the size of a warm start's first generation).

    Optuna's default population (50) leaves a budget of 200 only four generations; scale it
    with the budget but keep enough individuals for crossover to mean something. A tenth of
    the budget (20 at 200) beat a fifth (40) on both NAS-Bench-201 tables, in best accuracy
    and in hypervolume (benchmarks/results/strategies.md).
    """
    return max(8, min(50, budget // 10))


def _nsga2(ctx: StrategyContext) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(
        seed=ctx.seed,
        population_size=nsga2_population(ctx.budget),
        constraints_func=ctx.constraints_func,
    )


register_strategy(Strategy("random", _random, "uniform random sampling (Optuna RandomSampler)"))
register_strategy(Strategy("tpe", _tpe, "Tree-structured Parzen Estimator, multivariate"))
register_strategy(Strategy("nsga2", _nsga2, "NSGA-II genetic algorithm (Pareto rank, crowding)"))
