"""Keep any sampler from proposing an architecture the study has already scored.

Optuna's NSGA-II and TPE know nothing of canonical architectures: on the NAS-Bench-201 table
15-30 % of their proposals at budget 200 repeat a cell they had already seen (often with
different values for inactive choices). A repeat costs little (the objective reuses the stored
result) but spends budget on nothing. This wrapper asks the wrapped sampler for the whole
architecture at once, and draws again while the proposal's canonical hash is already in the
study (completed or running). After ``max_tries`` draws it takes an unseen *neighbour* of the
last proposal (one choice away, so the sampler's intent is kept as closely as possible), and
only when every neighbour is taken too does it hand the repeat on, so a nearly exhausted space
still makes progress.
"""

from __future__ import annotations

import random
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from nas.spaces import Space
from nas.storage import keys


class NoRepeatSampler(BaseSampler):
    """Wraps ``inner`` (any Optuna sampler) for a nas space; see the module docstring."""

    def __init__(
        self, inner: BaseSampler, space: Space, *, max_tries: int = 20, seed: int = 0
    ) -> None:
        self.inner = inner
        self.space = space
        self.max_tries = max_tries
        self.seed = seed

    # The search space is static (every label on every trial), so the wrapper proposes all
    # of it in sample_relative and Optuna never calls sample_independent for our labels.
    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        from nas.spaces.optuna_adapter import distributions

        return dict(distributions(self.space))

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        seen = {
            str(t.user_attrs[keys.ARCH_HASH])
            for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
            )
            if t.number != trial.number and keys.ARCH_HASH in t.user_attrs
        }
        params: dict[str, Any] = {}
        for _ in range(self.max_tries):
            params = self._draw(study, trial, search_space)
            if self.space.hash(params) not in seen:
                return params
        rng = random.Random(f"{self.seed}:{trial.number}")
        fresh = [n for n in self.space.neighbours(params) if self.space.hash(n) not in seen]
        return self.space.to_params(rng.choice(fresh)) if fresh else params

    def _draw(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        inner_space = self.inner.infer_relative_search_space(study, trial)
        inner_space = {k: v for k, v in inner_space.items() if k in search_space}
        params = dict(self.inner.sample_relative(study, trial, inner_space)) if inner_space else {}
        for name, dist in search_space.items():
            if name not in params:
                params[name] = self.inner.sample_independent(study, trial, name, dist)
        return params

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Any,
    ) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()
