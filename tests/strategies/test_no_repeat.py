"""The no-repeat wrapper: samplers stop spending budget on architectures already scored."""

from __future__ import annotations

import optuna
import pytest

from nas.spaces import space_from_dict
from nas.spaces.optuna_adapter import suggest
from nas.storage import keys
from nas.strategies import StrategyContext, create_sampler
from nas.strategies.no_repeat import NoRepeatSampler

# 3 * 2 = 6 architectures in all
SMALL = {
    "name": "small",
    "kind": "chain",
    "block": "mbconv",
    "train_resolution": 8,
    "latency_input": {"channels": 3, "height": 8, "width": 8},
    "stem": {"channels": 4},
    "stages": [{"channels": 4, "stride": 1}],
    "depth": [1],
    "layer_choices": {"kernel": [3, 5, 7], "expand": [2, 3]},
}


def _run(sampler: optuna.samplers.BaseSampler, space, n: int) -> list[str]:
    study = optuna.create_study(sampler=sampler)
    hashes = []
    for _ in range(n):
        trial = study.ask()
        arch = suggest(trial, space)
        h = space.hash(arch)
        trial.set_user_attr(keys.ARCH_HASH, h)
        hashes.append(h)
        study.tell(trial, float(arch["stage0.layer0.kernel"]))
    return hashes


@pytest.mark.parametrize("name", ["random", "tpe", "nsga2"])
def test_the_first_proposals_cover_the_space_without_repeats(name: str) -> None:
    space = space_from_dict(SMALL)
    assert space.size() == 6
    ctx = StrategyContext(
        n_objectives=1 if name == "tpe" else 2,
        seed=0,
        budget=6,
        constraints_func=None,
        space=space,
    )
    sampler = create_sampler(name, ctx)
    assert isinstance(sampler, NoRepeatSampler)
    if name == "nsga2":  # two objectives
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        seen = []
        for _ in range(6):
            t = study.ask()
            arch = suggest(t, space)
            seen.append(space.hash(arch))
            t.set_user_attr(keys.ARCH_HASH, seen[-1])
            study.tell(t, [1.0, 2.0])
        assert len(set(seen)) == 6
    else:
        assert len(set(_run(sampler, space, 6))) == 6


def test_an_exhausted_space_still_makes_progress() -> None:
    space = space_from_dict(SMALL)
    sampler = NoRepeatSampler(optuna.samplers.RandomSampler(seed=1), space, max_tries=1)
    hashes = _run(sampler, space, 9)
    assert len(set(hashes[:6])) == 6 and len(hashes) == 9


def test_without_the_wrapper_random_search_repeats() -> None:
    # the behaviour the wrapper exists to fix (a control for the tests above)
    space = space_from_dict(SMALL)
    hashes = _run(optuna.samplers.RandomSampler(seed=1), space, 6)
    assert len(set(hashes)) < 6


def test_enqueued_architectures_are_still_honoured() -> None:
    space = space_from_dict(SMALL)
    study = optuna.create_study(sampler=NoRepeatSampler(optuna.samplers.RandomSampler(0), space))
    target = {"stage0.depth": 1, "stage0.layer0.kernel": 7, "stage0.layer0.expand": 3}
    for _ in range(2):
        study.enqueue_trial(space.to_params(target))
    for _ in range(2):
        trial = study.ask()
        assert suggest(trial, space) == target
        trial.set_user_attr(keys.ARCH_HASH, space.hash(target))
        study.tell(trial, 0.0)


def test_a_proposal_claimed_by_another_worker_is_redrawn_in_the_same_trial() -> None:
    # The database claim is the authority: the seen set (a snapshot) says "unseen", but another
    # worker claimed the architecture a moment ago, so the wrapper draws again.
    space = space_from_dict(SMALL)
    claimed: dict[str, int] = {}
    stolen = iter(range(3))  # the first three proposals are claimed "by another worker"

    def claim(trial, h: str) -> bool:
        if h not in claimed and next(stolen, None) is not None:
            claimed[h] = -1
        if h in claimed:
            return claimed[h] == trial._trial_id
        claimed[h] = trial._trial_id
        return True

    sampler = NoRepeatSampler(optuna.samplers.RandomSampler(seed=3), space, claim=claim)
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    h = space.hash(suggest(trial, space))
    assert claimed[h] == trial._trial_id
    assert sum(v == -1 for v in claimed.values()) == 3
    # the other three architectures, one per trial, each claimed once
    got = {h}
    for _ in range(2):
        t = study.ask()
        got.add(space.hash(suggest(t, space)))
    assert len(got) == 3 and all(claimed[g] >= 0 for g in got)
