"""A tiny real search end to end: supernet, candidates, latency, SQLite, resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import keys
from tests.conftest import TINY

FAST = dict(space=str(TINY), supernet_epochs=1, calib_batches=1, batch_size=256)


def _opts(storage_url: str, **kw) -> SearchOptions:
    return SearchOptions(**{**FAST, "storage": storage_url, "study": "s", **kw})


def test_search_writes_a_complete_study(storage_url: str) -> None:
    result = run_search(_opts(storage_url, budget=6, seed=1))
    assert result.completed == 6 and result.supernet == "trained"
    study = optuna.load_study(study_name="s", storage=storage_url)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 6
    assert study.metric_names == [keys.ACCURACY, keys.LATENCY_MS]
    settings = study.user_attrs[keys.SETTINGS]
    assert settings["space"] == "tiny" and settings["strategy"] == "nsga2"
    assert study.user_attrs[keys.BUDGET] == 6
    for t in trials:
        ua = t.user_attrs
        for k in (
            keys.ARCH,
            keys.ARCH_HASH,
            keys.ARCH_STR,
            keys.ACCURACY,
            keys.LATENCY_MS,
            keys.LATENCY,
            keys.FINGERPRINT,
            keys.PARAMS_M,
            keys.FLOPS_M,
            keys.EVAL_SECONDS,
        ):
            assert k in ua, k
        json.dumps(ua)  # JSON-friendly for optuna-dashboard
        assert t.values == [ua[keys.ACCURACY], ua[keys.LATENCY_MS]]
        assert 0.0 <= ua[keys.ACCURACY] <= 1.0
        assert ua[keys.LATENCY]["median_ms"] == ua[keys.LATENCY_MS] > 0
        assert ua[keys.LATENCY]["runs"] >= 3
        assert ua[keys.FINGERPRINT]["threads"] >= 1
    front_numbers = {t.number for t in result.front}
    assert front_numbers and front_numbers <= {t.number for t in trials}


def test_resume_adds_only_the_missing_trials_and_reuses_the_supernet(storage_url: str) -> None:
    run_search(_opts(storage_url, budget=4))
    before = {
        t.number: (t.values, t.user_attrs)
        for t in optuna.load_study(study_name="s", storage=storage_url).trials
    }
    result = run_search(_opts(storage_url, budget=7))
    assert result.supernet == "loaded"
    study = optuna.load_study(study_name="s", storage=storage_url)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 7
    for t in study.trials:
        if t.number in before:
            assert (t.values, t.user_attrs) == before[t.number]
    # already at budget: nothing new, no supernet needed
    again = run_search(_opts(storage_url, budget=7))
    assert again.completed == 7 and again.supernet == ""
    assert len(optuna.load_study(study_name="s", storage=storage_url).trials) == len(study.trials)


def test_latency_cache_is_shared_across_studies(storage_url: str) -> None:
    run_search(_opts(storage_url, budget=3, strategy="random", seed=5))
    run_search(_opts(storage_url, budget=3, strategy="random", seed=5, study="other"))
    other = optuna.load_study(study_name="other", storage=storage_url)
    sources = [t.user_attrs[keys.LATENCY_SOURCE] for t in other.trials]
    assert sources == ["cached"] * 3


def test_max_latency_constraint_is_honoured(storage_url: str) -> None:
    first = run_search(_opts(storage_url, budget=5, strategy="random", study="free"))
    lats = sorted(t.user_attrs[keys.LATENCY_MS] for t in first.front)
    limit = lats[0] * 1.0001
    result = run_search(_opts(storage_url, budget=8, max_latency_ms=limit, study="capped"))
    study = optuna.load_study(study_name="capped", storage=storage_url)
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        c = t.user_attrs[keys.CONSTRAINT]
        assert c == [pytest.approx(t.user_attrs[keys.LATENCY_MS] - limit)]
        # Optuna recorded the constraint for its samplers
        assert t.system_attrs["constraints"] == c
    assert all(t.user_attrs[keys.LATENCY_MS] <= limit for t in result.front)


def test_weighted_objective(storage_url: str) -> None:
    result = run_search(
        _opts(storage_url, budget=4, objective="weighted", latency_target_ms=1.0, study="w")
    )
    study = optuna.load_study(study_name="w", storage=storage_url)
    assert result.settings.strategy == "tpe"
    assert study.metric_names == [keys.SCORE]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        acc, lat = t.user_attrs[keys.ACCURACY], t.user_attrs[keys.LATENCY_MS]
        assert t.value == pytest.approx(acc * (lat / 1.0) ** -0.07)


def test_repeated_architectures_are_pruned_without_spending_budget(storage_url: str) -> None:
    from nas.spaces import load_space

    space = load_space(str(TINY))
    arch = space.neighbours(space.largest())[0]  # not an anchor (trial 0 is the largest)
    result = run_search(_opts(storage_url, budget=1, strategy="random"))
    study = optuna.load_study(study_name="s", storage=storage_url)
    first = study.trials[0]
    study.enqueue_trial(space.to_params(first.user_attrs[keys.ARCH]))
    study.enqueue_trial(space.to_params(arch))
    study.enqueue_trial(space.to_params(arch))
    run_search(_opts(storage_url, budget=4, strategy="random"))
    trials = optuna.load_study(study_name="s", storage=storage_url).trials
    # the repeats point at the trial that holds their network and are not evaluated
    assert trials[1].state == TrialState.PRUNED and trials[1].user_attrs[keys.DUPLICATE_OF] == 0
    assert trials[3].state == TrialState.PRUNED and trials[3].user_attrs[keys.DUPLICATE_OF] == 2
    assert keys.ACCURACY not in trials[3].user_attrs
    # the budget counts distinct architectures: four of them completed
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({t.user_attrs[keys.ARCH_HASH] for t in complete}) == 4
    assert result.completed == 1


def test_resume_with_other_settings_is_refused(storage_url: str) -> None:
    from nas.errors import StorageError

    run_search(_opts(storage_url, budget=2))
    db = Path(storage_url.removeprefix("sqlite:///"))
    before = db.read_bytes()
    with pytest.raises(StorageError, match="created with objective='pareto'"):
        run_search(_opts(storage_url, budget=3, objective="weighted", latency_target_ms=5.0))
    assert db.read_bytes() == before


def test_another_seed_is_a_new_search_on_the_same_supernet(storage_url: str) -> None:
    """A re-run with another --seed makes new proposals in a new study (not a resume of the
    finished one) and loads the supernet the first run trained."""
    first = run_search(_opts(storage_url, budget=5, study=None))
    second = run_search(_opts(storage_url, budget=5, study=None, seed=1))
    assert re.fullmatch(r"tiny-nsga2-\d{8}", first.study_name)
    assert second.study_name == first.study_name + "-seed1"
    assert (first.supernet, second.supernet) == ("trained", "loaded")
    assert second.completed == second.completed_here == 5  # evaluated here, not found done
    # the same supernet scores both: an architecture in both studies has the same accuracy
    acc = {}
    for name in (first.study_name, second.study_name):
        study = optuna.load_study(study_name=name, storage=storage_url)
        for t in study.get_trials(states=(TrialState.COMPLETE,)):
            acc.setdefault(t.user_attrs[keys.ARCH_HASH], set()).add(t.user_attrs[keys.ACCURACY])
    assert all(len(v) == 1 for v in acc.values())


def test_resuming_a_study_with_another_seed_is_refused(storage_url: str) -> None:
    from nas.errors import StorageError

    run_search(_opts(storage_url, budget=2))
    with pytest.raises(StorageError, match="created with seed=0, not 3"):
        run_search(_opts(storage_url, budget=3, seed=3))


def test_a_new_search_starts_with_the_largest_and_smallest_architectures(
    storage_url: str,
) -> None:
    """The space's anchors come first whatever the strategy, so the front spans its range."""
    from nas.analysis.evidence import anchor_roles
    from nas.spaces import load_space
    from nas.storage import studies as st

    space = load_space(str(TINY))
    for strategy in ("nsga2", "random", "evolution"):
        run_search(_opts(storage_url, budget=4, strategy=strategy, study=strategy))
        study = optuna.load_study(study_name=strategy, storage=storage_url)
        first = [space.hash(t.user_attrs[keys.ARCH]) for t in study.trials[:2]]
        assert first == [space.hash(space.largest()), space.hash(space.smallest())], strategy
        # recorded as anchors, so that the screens mark them (issue 24)
        roles = {first[0]: "largest", first[1]: "smallest"}
        assert st.anchors_of(study.user_attrs) == roles
        assert anchor_roles(roles, study.trials) == {0: "largest", 1: "smallest"}
