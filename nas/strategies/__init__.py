"""Search strategies: each proposes architectures through an Optuna sampler."""

from __future__ import annotations

from nas.strategies.base import (
    Strategy,
    StrategyContext,
    create_sampler,
    default_strategy,
    get_strategy,
    register_strategy,
    strategy_names,
)

__all__ = [
    "Strategy",
    "StrategyContext",
    "create_sampler",
    "default_strategy",
    "get_strategy",
    "register_strategy",
    "strategy_names",
]
