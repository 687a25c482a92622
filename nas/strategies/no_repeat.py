"""Keep any sampler from proposing an architecture the study has already scored.

Optuna's NSGA-II and TPE know nothing of canonical architectures: on the NAS-Bench-201 table
15-30 % of their proposals at budget 200 repeat a cell they had already seen (often with
different values for inactive choices). A repeat costs little (the objective reuses the stored
result) but spends budget on nothing. This wrapper asks the wrapped sampler for the whole
architecture at once, and draws again while the proposal's canonical hash is already in the
study (completed or running). After ``max_tries`` draws it takes an unseen *neighbour* of the
last proposal (one choice away, so the sampler's intent is kept as closely as possible), then
uniform draws from the space, then (for a space small enough to list) any architecture not yet
taken. Only when all of those are taken does it hand the repeat on; the objective then turns
the repeat away without spending budget (:mod:`nas.search.objective`).

Several workers: the seen set is a snapshot, and two workers may both find the same
architecture unseen. With ``claim`` (a compare-and-set in the database,
:func:`nas.storage.coordination.claim_arch`) a proposal counts as unseen only once this trial
has claimed it atomically; a proposal another worker claimed a moment earlier is added to the
seen set and the wrapper draws again, within the same trial and the same budget slot. So every
completed trial of a study is a distinct architecture, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from nas.spaces import Space
from nas.spaces.base import Arch
from nas.storage import keys

# claim(trial, arch_hash) -> True when this trial now owns the architecture's evaluation
Claim = Callable[[FrozenTrial, str], bool]
ENUMERATE_LIMIT = 50_000  # spaces with at most this many parameter combinations are listed


def countable_size(space: Space) -> int | None:
    """The number of distinct architectures of ``space`` when it is small enough to list."""
    if math.prod(len(c.options) for c in space.choices) > ENUMERATE_LIMIT:
        return None
    return space.size()


class NoRepeatSampler(BaseSampler):
    """Wraps ``inner`` (any Optuna sampler) for a nas space; see the module docstring."""

    def __init__(
        self,
        inner: BaseSampler,
        space: Space,
        *,
        max_tries: int = 20,
        seed: int = 0,
        claim: Claim | None = None,
        trials: Callable[[], Sequence[FrozenTrial]] | None = None,
    ) -> None:
        """``trials``: the study's trials as the caller's trial loop last read them (it reads
        once per trial); the taken set comes from them instead of a read of its own. Only a
        snapshot: ``claim`` decides, so an older snapshot costs at most a draw again."""
        self.inner = inner
        self.space = space
        self.max_tries = max_tries
        self.seed = seed
        self.claim = claim
        self.trials = trials

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
        if not search_space:
            return {}
        taken = (TrialState.COMPLETE, TrialState.RUNNING)
        known = self.trials() if self.trials is not None else study.get_trials(deepcopy=False)
        seen = {
            str(t.user_attrs[keys.ARCH_HASH])
            for t in known
            if t.state in taken and t.number != trial.number and keys.ARCH_HASH in t.user_attrs
        }

        def take(arch: dict[str, Any]) -> bool:
            h = self.space.hash(arch)
            if h in seen:
                return False
            if self.claim is None or self.claim(trial, h):
                return True
            seen.add(h)  # another worker claimed it after our snapshot
            return False

        params: dict[str, Any] = {}
        for _ in range(self.max_tries):
            params = self._draw(study, trial, search_space)
            if take(params):
                return params
        rng = random.Random(f"{self.seed}:{trial.number}")
        for arch in self._fallbacks(params, rng):
            if take(arch):
                return self.space.to_params(arch)
        return params  # every architecture is taken: the objective turns the repeat away

    def _fallbacks(self, params: dict[str, Any], rng: random.Random) -> Iterator[Arch]:
        """Neighbours of the last proposal, then uniform draws, then (small spaces) all."""
        near = self.space.neighbours(params)
        rng.shuffle(near)
        yield from near
        for _ in range(self.max_tries):
            yield self.space.sample(rng)
        if countable_size(self.space) is not None:
            every = list(self.space._enumerate())
            rng.shuffle(every)
            yield from every

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
