"""Every built-in space searches end to end (supernet, candidates, latency, storage), and the
cell spaces also with DARTS. Small data and one epoch keep each run to seconds."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.spaces import builtin_names, load_space
from nas.storage import keys

STRATEGIES = ("random", "tpe", "nsga2")


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """240 digits as an .npz: enough for every split, fast enough for one epoch per space."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = tmp_path_factory.mktemp("data") / "digits240.npz"
    np.savez(path, x=digits.images[:240].astype(np.float32) / 16.0, y=digits.target[:240])
    return str(path)


def _check_trials(storage_url: str, space_name: str, n: int) -> list:
    space = load_space(space_name)
    study = optuna.load_study(study_name="s", storage=storage_url)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == n
    for t in trials:
        ua = t.user_attrs
        assert ua[keys.ARCH] == space.canonical(ua[keys.ARCH])
        assert ua[keys.ARCH_STR] == space.describe(ua[keys.ARCH])
        assert 0.0 <= ua[keys.ACCURACY] <= 1.0
        assert ua[keys.LATENCY_MS] > 0 and ua[keys.LATENCY_SOURCE] in ("measured", "cached")
        assert ua[keys.PARAMS_M] > 0
    return trials


@pytest.mark.slow
@pytest.mark.parametrize("space_name", builtin_names())
def test_every_builtin_space_searches_end_to_end(
    space_name: str, small_data: str, storage_url: str
) -> None:
    # a different strategy per space, so all three samplers meet every kind of space over runs
    strategy = STRATEGIES[builtin_names().index(space_name) % len(STRATEGIES)]
    opts = SearchOptions(
        space=space_name,
        budget=2,
        strategy=strategy,
        data=small_data,
        storage=storage_url,
        study="s",
        supernet_epochs=1,
        calib_batches=1,
        batch_size=64,
    )
    result = run_search(opts)
    assert result.completed == 2 and result.supernet == "trained"
    _check_trials(storage_url, space_name, 2)


@pytest.mark.slow
@pytest.mark.parametrize("space_name", ["nb201", "darts"])
def test_darts_searches_the_cell_spaces(
    space_name: str, small_data: str, storage_url: str
) -> None:
    opts = SearchOptions(
        space=space_name,
        budget=1,
        strategy="darts",
        data=small_data,
        storage=storage_url,
        study="s",
        calib_batches=1,
        batch_size=64,
        darts_latency_weight=0.01,
    )
    result = run_search(opts)
    assert result.completed == 1 and result.supernet == "darts"
    (trial,) = _check_trials(storage_url, space_name, 1)
    assert trial.user_attrs[keys.DARTS_EPOCH] == 1
    assert set(trial.user_attrs[keys.ARCH_WEIGHTS]) == {
        k for k, _ in load_space(space_name).mixed_edges()
    }


def test_builtin_spaces_include_the_cell_and_global_spaces() -> None:
    kinds = {load_space(n).kind for n in builtin_names()}
    assert {"chain", "nb201", "darts", "resnet"} <= kinds
