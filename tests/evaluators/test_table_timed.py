"""A table without a latency column: real accuracies from NAS-Bench-Macro, latency measured
live on the target (issue 21, item 4)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.evaluators.table import DEFAULT_LATENCY_COLUMN, latency_column
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.spaces import load_space
from nas.storage import keys
from tests.conftest import ROOT

# beside the checkout; NAS_BENCH_DIR points elsewhere (a git worktree, say)
BENCH = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench")
TABLE = BENCH / "nas_bench_macro_cifar10.csv"


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    if not TABLE.exists():
        if os.environ.get("CI") or os.geteuid() == 0:  # CI has shared/bench beside the checkout
            pytest.fail(f"{TABLE} is missing; the timed table search runs on it in CI")
        pytest.skip(f"{TABLE} is not beside the checkout")
    with TABLE.open() as f:
        return {r["arch"]: r for r in csv.DictReader(f)}


def test_the_latency_column_is_read_where_there_is_one(tmp_path: Path) -> None:
    with_latency = tmp_path / "t.csv"
    with_latency.write_text("arch,accuracy,latency_ms\n")
    without = tmp_path / "u.csv"
    without.write_text("arch,accuracy\n")
    assert latency_column(with_latency, None) == DEFAULT_LATENCY_COLUMN
    assert latency_column(without, None) is None  # measured on --target
    assert latency_column(without, "lat") == "lat"  # named: must be there (checked later)


def test_macro_search_gets_table_accuracies_and_measured_latency(
    rows: dict[str, dict[str, str]], storage_url: str
) -> None:
    budget = 8
    opts = SearchOptions(
        space="macro",
        evaluator=f"table:{TABLE}",
        accuracy_column="mean_acc",
        budget=budget,
        storage=storage_url,
        study="macro",
    )
    result = run_search(opts)
    assert result.completed == budget and result.supernet == ""
    assert result.settings.target == "onnxruntime" and result.settings.latency_input == "1x3x32x32"
    space = load_space("macro")
    study = optuna.load_study(study_name="macro", storage=storage_url)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == budget
    for t in done:
        ua = t.user_attrs
        code = space.describe(space.from_params(t.params))
        row = rows[code]  # every architecture of the space is in the table
        assert ua[keys.TABLE_ROW]["arch"] == code  # kept a string: "00000000", not 0
        assert ua[keys.TABLE_ROW]["mean_acc"] == pytest.approx(float(row["mean_acc"]))
        assert t.values[0] == pytest.approx(float(row["mean_acc"]) / 100)
        assert ua[keys.LATENCY_SOURCE] in ("measured", "cached")
        assert ua[keys.LATENCY_MS] > 0
        assert round(ua[keys.PARAMS_M] * 1e6) == int(row["params"])  # the benchmark's network
        assert round(ua[keys.MACS_M] * 1e6) == int(row["flops"])
