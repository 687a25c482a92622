"""Every registered strategy, tested the moment it is registered (as the space tests loop over
the spaces): a sampler-driven one runs a tiny search on the tabular evaluator (the synthetic
NAS-Bench-201 sample, nothing trained), ends with exactly the budget of distinct
architectures, resumes without touching what it has, and repeats itself with the same seed;
a gradient-driven one (DARTS trains its own supernet; its epochs, records and resume are in
tests/strategies/test_darts.py) refuses the table evaluator in one line."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.errors import OptionError
from nas.search.driver import run_search
from nas.search.options import GRADIENT, SAMPLER, SearchOptions
from nas.storage import keys
from nas.strategies import get_strategy, strategy_names
from tests.conftest import ROOT

BENCH = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench")
SAMPLE = BENCH / "nb201_synthetic.csv"
DRIVERS = {name: get_strategy(name).driver for name in strategy_names()}
SAMPLERS = sorted(n for n, d in DRIVERS.items() if d == SAMPLER)
GRADIENTS = sorted(n for n, d in DRIVERS.items() if d == GRADIENT)
needs_table = pytest.mark.skipif(
    not SAMPLE.exists(), reason="shared/bench is not beside the checkout"
)


def test_every_strategy_has_a_driver_tested_here() -> None:
    assert set(DRIVERS.values()) <= {SAMPLER, GRADIENT}, DRIVERS
    assert SAMPLERS and GRADIENTS


def _table_search(url: str, strategy: str, budget: int, seed: int) -> list[dict]:
    result = run_search(
        SearchOptions(
            space="nb201",
            evaluator=f"table:{SAMPLE}",
            storage=url,
            study="s",
            strategy=strategy,
            budget=budget,
            seed=seed,
        )
    )
    assert result.completed == budget
    study = optuna.load_study(study_name="s", storage=url)
    return [
        {"number": t.number, "params": t.params, "hash": t.user_attrs[keys.ARCH_HASH]}
        for t in study.get_trials(states=(TrialState.COMPLETE,))
    ]


@needs_table
@pytest.mark.parametrize("strategy", SAMPLERS)
def test_a_sampler_strategy_completes_resumes_and_repeats_with_its_seed(
    strategy: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = _table_search(url, strategy, budget=6, seed=5)
    assert len(first) == 6 and len({t["hash"] for t in first}) == 6
    resumed = _table_search(url, strategy, budget=9, seed=5)
    assert len(resumed) == 9 and len({t["hash"] for t in resumed}) == 9
    assert [t for t in resumed if t["number"] in {f["number"] for f in first}] == first
    again = _table_search(f"sqlite:///{tmp_path / 'b.db'}", strategy, budget=6, seed=5)
    assert [t["params"] for t in again] == [t["params"] for t in first]


@pytest.mark.parametrize("strategy", GRADIENTS)
def test_a_gradient_strategy_refuses_the_table_evaluator(strategy: str) -> None:
    with pytest.raises(OptionError, match="--evaluator") as err:
        SearchOptions(space="nb201", strategy=strategy, evaluator=f"table:{SAMPLE}")
    assert "\n" not in str(err.value)
