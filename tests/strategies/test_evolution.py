"""Regularized evolution: random start, tournament, one mutation, aging window, resume."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from nas.pareto import crowding, non_dominated_fronts
from nas.spaces import load_space
from nas.spaces.optuna_adapter import distributions, suggest
from nas.strategies import StrategyContext, create_sampler, strategy_names
from nas.strategies.evolution import (
    PARENT_KEY,
    RegularizedEvolutionSampler,
    default_sizes,
    fitness_keys,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
MAX, MIN = StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE


@pytest.fixture(scope="module")
def nb201():
    return load_space("nb201")


def _score(arch) -> float:
    """A deterministic toy fitness: convolutions are good, 'none' is bad."""
    return sum({"nor_conv_3x3": 3, "nor_conv_1x1": 2, "none": -1}.get(v, 0) for v in arch.values())


def _objective(space):
    def f(trial: optuna.Trial) -> float:
        return _score(suggest(trial, space))

    return f


def _add(study, space, arch, value=None, state=TrialState.COMPLETE, values=None, attrs=None):
    study.add_trial(
        create_trial(
            state=state,
            params=space.to_params(arch),
            distributions=distributions(space),
            value=value,
            values=values,
            user_attrs=attrs or {},
        )
    )


def _archs(space, n: int) -> list[dict]:
    import random

    rng = random.Random(42)
    out: list[dict] = []
    while len(out) < n:
        a = space.sample(rng)
        if a not in out:
            out.append(a)
    return out


def test_evolution_is_registered_and_needs_the_space(nb201) -> None:
    from nas.errors import OptionError

    assert "evolution" in strategy_names()
    ctx = StrategyContext(n_objectives=2, seed=0, budget=200, constraints_func=None, space=nb201)
    from nas.strategies.no_repeat import NoRepeatSampler

    wrapper = create_sampler("evolution", ctx)
    # wrapped for the database claim, taking evolution's one proposal per trial as it is
    assert isinstance(wrapper, NoRepeatSampler) and wrapper.max_tries == 1
    sampler = wrapper.inner
    assert isinstance(sampler, RegularizedEvolutionSampler)
    assert (sampler.population_size, sampler.sample_size) == (10, 3)
    with pytest.raises(OptionError, match="needs the search space"):
        create_sampler("evolution", StrategyContext(1, 0, 200, None))
    assert default_sizes(20_000) == (100, 25)


def test_first_population_is_random_then_every_child_is_one_mutation(nb201) -> None:
    sampler = RegularizedEvolutionSampler(nb201, population_size=8, sample_size=3, seed=1)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective(nb201), n_trials=60)
    trials = study.trials
    assert all(PARENT_KEY not in t.system_attrs for t in trials[:8])
    for t in trials[8:]:
        parent = trials[t.system_attrs[PARENT_KEY]]
        assert t.number - 8 <= parent.number < t.number  # within the aging window
        child, par = nb201.from_params(t.params), nb201.from_params(parent.params)
        assert sum(child[k] != par[k] for k in par) == 1
    # selection pressure: the second half is better on average than the random start
    mean = lambda ts: sum(t.value for t in ts) / len(ts)  # noqa: E731
    assert mean(trials[30:]) > mean(trials[:8])


def test_mutation_in_a_chain_space_changes_one_active_choice(tiny_space) -> None:
    sampler = RegularizedEvolutionSampler(tiny_space, population_size=4, sample_size=2, seed=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        arch = suggest(trial, tiny_space)
        return float(len(tiny_space.encode(arch)) % 7)

    study.optimize(objective, n_trials=20)
    for t in study.trials[4:]:
        parent = study.trials[t.system_attrs[PARENT_KEY]]
        par = tiny_space.from_params(parent.params)
        child = tiny_space.from_params(t.params)
        assert child in tiny_space.neighbours(par)


def test_aging_removes_the_oldest_and_skips_failed_trials(nb201) -> None:
    a = _archs(nb201, 9)
    study = optuna.create_study(direction="maximize")
    # trial 0 is the best ever seen; trial 4 failed
    for arch, value in zip(a[:4], [100.0, 1.0, 5.0, 2.0], strict=True):
        _add(study, nb201, arch, value)
    _add(study, nb201, a[4], state=TrialState.FAIL)
    _add(study, nb201, a[5], 3.0)
    _add(study, nb201, a[6], 4.0)
    # population = last 4 COMPLETE = trials 2, 3, 5, 6; the tournament sees them all
    sampler = RegularizedEvolutionSampler(nb201, population_size=4, sample_size=4, seed=0)
    study.sampler = sampler
    study.optimize(lambda t: (suggest(t, nb201), 0.0)[1], n_trials=1)
    assert study.trials[7].system_attrs[PARENT_KEY] == 2
    # one more child: trial 2 ages out (window 3, 5, 6, 7), so trial 6 is the parent now
    study.optimize(lambda t: (suggest(t, nb201), 0.0)[1], n_trials=1)
    assert study.trials[8].system_attrs[PARENT_KEY] == 6


def test_tournament_picks_by_pareto_rank_then_crowding(nb201) -> None:
    #        acc   lat
    pts = [
        (0.70, 8.0),  # rank 1 (dominated by B)
        (0.60, 20.0),  # rank 2
        (0.85, 7.0),  # rank 0, interior: finite crowding
        (0.90, 10.0),  # rank 0, boundary
        (0.80, 5.0),  # rank 0, boundary
    ]
    trials = [create_trial(values=list(p)) for p in pts]
    keys = fitness_keys(trials, [MAX, MIN])
    assert [k[2] for k in keys] == [1, 2, 0, 0, 0]
    assert sorted(range(5), key=keys.__getitem__)[:3] == [3, 4, 2]
    assert keys[2][3] > -math.inf and keys[3][3] == -math.inf
    # in the sampler: with the whole population in the tournament, the parent has rank 0
    study = optuna.create_study(directions=["maximize", "minimize"])
    for arch, p in zip(_archs(nb201, 5), pts, strict=True):
        _add(study, nb201, arch, values=list(p))
    study.sampler = RegularizedEvolutionSampler(nb201, population_size=5, sample_size=5, seed=0)
    study.optimize(lambda t: (suggest(t, nb201), [0.5, 9.0])[1], n_trials=1)
    assert study.trials[5].system_attrs[PARENT_KEY] == 3  # boundary of front 0, oldest first


def test_pareto_helpers() -> None:
    losses = [[1.0, 1.0], [2.0, 2.0], [0.0, 3.0], [3.0, 0.0], [3.0, 3.0]]
    assert non_dominated_fronts(losses) == [[0, 2, 3], [1], [4]]
    d = crowding([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]])
    assert d[0] == d[3] == math.inf
    assert d[1] == pytest.approx(2 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 2 / 4)


def test_infeasible_trials_rank_last(nb201) -> None:
    def constraints(t):
        return t.user_attrs["c"]

    trials = [
        create_trial(value=9.0, user_attrs={"c": [2.0]}),
        create_trial(value=1.0, user_attrs={"c": [0.0]}),
        create_trial(value=5.0, user_attrs={"c": [-1.0]}),
        create_trial(value=8.0, user_attrs={"c": [0.5]}),
    ]
    keys = fitness_keys(trials, [MAX], constraints)
    assert sorted(range(4), key=keys.__getitem__) == [2, 1, 3, 0]
    # the sampler stores the constraints like Optuna's samplers and selects the feasible best
    study = optuna.create_study(direction="maximize")
    for arch, t in zip(_archs(nb201, 4), trials, strict=True):
        _add(study, nb201, arch, t.value, attrs=t.user_attrs)
    study.sampler = RegularizedEvolutionSampler(
        nb201, population_size=4, sample_size=4, seed=0, constraints_func=constraints
    )

    def objective(trial: optuna.Trial) -> float:
        suggest(trial, nb201)
        trial.set_user_attr("c", [3.0])
        return 0.0

    study.optimize(objective, n_trials=1)
    assert study.trials[4].system_attrs[PARENT_KEY] == 2
    assert list(study.trials[4].system_attrs["constraints"]) == [3.0]


def test_resume_proposes_what_an_uninterrupted_run_would(nb201) -> None:
    # The storage outlives the sampler and study objects, as a database outlives a process;
    # (the SQLite resume of a whole search is in tests/evaluators/test_table.py).
    def run(chunks: list[int]) -> list[dict]:
        storage = optuna.storages.InMemoryStorage()
        for n in chunks:
            sampler = RegularizedEvolutionSampler(nb201, population_size=6, sample_size=2, seed=7)
            study = optuna.create_study(
                study_name="s",
                storage=storage,
                direction="maximize",
                sampler=sampler,
                load_if_exists=True,
            )
            study.optimize(_objective(nb201), n_trials=n)
        return [t.params for t in study.trials]

    whole = run([24])
    assert len(whole) == 24 and run([10, 5, 9]) == whole
    other_seed = RegularizedEvolutionSampler(nb201, population_size=6, sample_size=2, seed=8)
    study = optuna.create_study(direction="maximize", sampler=other_seed)
    study.optimize(_objective(nb201), n_trials=24)
    assert [t.params for t in study.trials] != whole


def test_two_workers_share_one_population(nb201) -> None:
    storage = optuna.storages.InMemoryStorage()
    studies = [
        optuna.create_study(
            study_name="w",
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=RegularizedEvolutionSampler(nb201, population_size=5, sample_size=2, seed=s),
        )
        for s in (0, 1)
    ]
    for i in range(30):  # the workers take turns, as two processes on one database would
        studies[i % 2].optimize(_objective(nb201), n_trials=1)
    trials = studies[0].trials
    parents = [t.system_attrs[PARENT_KEY] for t in trials[5:]]
    # children of worker 0 (even numbers) have parents proposed by worker 1 and vice versa
    assert any(p % 2 != t.number % 2 for p, t in zip(parents, trials[5:], strict=True))
    assert all(t.number - 5 <= p < t.number for p, t in zip(parents, trials[5:], strict=True))


def test_duplicates_are_redrawn(nb201) -> None:
    sampler = RegularizedEvolutionSampler(nb201, population_size=5, sample_size=2, seed=2)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective(nb201), n_trials=80)
    keys = [nb201.encode(nb201.from_params(t.params)) for t in study.trials]
    # 80 proposals from a narrow, converging population, yet (almost) no repeats
    assert len(set(keys)) >= 78


def test_sample_independent_serves_extra_categorical_params(nb201) -> None:
    sampler = RegularizedEvolutionSampler(nb201, population_size=3, sample_size=2, seed=0)
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        suggest(trial, nb201)
        return float(trial.suggest_categorical("extra", ["a", "b"]) == "a")

    study.optimize(objective, n_trials=3)
    assert {t.params["extra"] for t in study.trials} <= {"a", "b"}
    assert isinstance(study.trials[0].distributions["extra"], CategoricalDistribution)
