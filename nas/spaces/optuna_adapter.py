"""Map a space to Optuna distributions, the only place ``nas.spaces`` meets Optuna.

Every label is suggested on every trial (a static search space), so multivariate samplers such
as NSGA-II and multivariate TPE see the whole space; the canonical architecture then drops the
labels that are inactive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas.spaces.base import Arch, Space

if TYPE_CHECKING:
    import optuna


def distributions(space: Space) -> dict[str, optuna.distributions.BaseDistribution]:
    """One categorical distribution per choice label, in the space's order."""
    from optuna.distributions import CategoricalDistribution

    return {c.label: CategoricalDistribution(list(c.options)) for c in space.choices}


def suggest(trial: optuna.Trial, space: Space) -> Arch:
    """Ask the trial for every choice and return the canonical architecture."""
    params = {c.label: trial.suggest_categorical(c.label, list(c.options)) for c in space.choices}
    return space.from_params(params)  # type: ignore[arg-type]  # values come from c.options
