"""A long table study (a real search padded by ``tests/scale_study.py``): the padded file opens
with Optuna and optuna-dashboard, and ``nas show`` of its long front fits an 80-column terminal
in under 30 lines with the knee, its test accuracy and the next commands (issues 23 and 24)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from nas.analysis.results import knee, pareto_front
from nas.storage import Store, keys
from nas.storage.fastread import load_trials
from tests.commands.test_tables_80_columns import _in_pty
from tests.conftest import nas_cmd, subprocess_env
from tests.evaluators.test_table import BENCH
from tests.scale_study import check_opens, pad

TABLE = BENCH / "nb201_hw.csv"
pytestmark = pytest.mark.skipif(
    not TABLE.exists(), reason="shared/bench is not beside the checkout"
)


@pytest.fixture(scope="module")
def long_study(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Study ``hw``: 20 trials of a real table search (validation accuracy searched, test
    accuracy in each stored row), padded to 1,500."""
    path = tmp_path_factory.mktemp("scale") / "studies.db"
    url = f"sqlite:///{path}"
    done = subprocess.run(
        nas_cmd(
            "search", "--space", "nb201", "--budget", "20", "--study", "hw", "--storage", url,
            "--evaluator", f"table:{TABLE}", "--accuracy-column", "cifar10_valid",
            "--latency-column", "raspi4_latency_ms",
        ),
        capture_output=True, text=True, env=subprocess_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pad(path, "hw", 1480, seed=1)
    return url


def test_padded_trials_are_the_rows_a_search_writes(long_study: str) -> None:
    check_opens(long_study, "hw", 1500)  # Optuna and optuna-dashboard's loader
    trials = load_trials(Store(long_study, read_only=True), "hw")
    assert [t.number for t in trials] == list(range(1500))
    real, padded = trials[:20], trials[20:]
    assert {frozenset(t.user_attrs) for t in trials} == {frozenset(real[-1].user_attrs)}
    for t in padded[::97]:
        row = t.user_attrs[keys.TABLE_ROW]
        assert row["arch"] == t.user_attrs[keys.ARCH_STR]
        assert t.user_attrs[keys.ACCURACY] == row["cifar10_valid"] / 100
        assert t.user_attrs[keys.LATENCY_MS] == row["raspi4_latency_ms"]
        assert t.values == [t.user_attrs[keys.ACCURACY], t.user_attrs[keys.LATENCY_MS]]
        assert set(t.params) == set(real[0].params)
        assert t.distributions == real[0].distributions


def test_show_of_a_long_front_fits_30_lines_of_80_columns(long_study: str) -> None:
    # run where the database is, with a relative URL: the lines it takes must not depend on
    # the length of pytest's temporary folder (longer under pytest-xdist)
    here = Path(long_study.removeprefix("sqlite:///")).parent
    short = "sqlite:///studies.db"
    out = _in_pty(["show", "hw", "--storage", short], cwd=here)
    lines = out.rstrip("\n").splitlines()
    assert len(lines) < 30 and max(len(ln) for ln in lines) <= 80, out
    trials = load_trials(Store(long_study, read_only=True), "hw", params=False)
    front = pareto_front([t for t in trials if t.state.is_finished()])
    k = knee(front)
    assert k is not None and len(front) > 8, len(front)
    assert f"Pareto front: {len(front)} of 1500 complete trials" in out
    # the knee's row: trial, validation accuracy, its test accuracy (the table's), latency
    test = k.user_attrs[keys.TABLE_ROW]["cifar10_test"]
    acc = 100 * k.user_attrs[keys.ACCURACY]
    assert re.search(rf"│ +{k.number} \(knee\) │ +{acc:.2f} │ +{test:.2f} │", out), out
    assert "test %" in out
    assert f"trial{k.number}:{k.user_attrs[keys.ARCH_STR]}" in "".join(out.split())
    assert len(re.findall(r"^│", out, re.M)) == 8  # eight rows: the ends, the knee, between
    flat = " ".join(out.split())
    assert f"8 of {len(front)} front points shown" in flat and "--all" in flat
    assert out.split("\nnext:\n", 1)[1].split()[:2] == ["nas", "dashboard"]
    every = _in_pty(["show", "hw", "--all", "--storage", short], cwd=here)
    assert len(re.findall(r"^│", every, re.M)) == len(front)
    # narrower, the settings and commands fold onto more lines: fewer rows, still under 30
    narrow = _in_pty(["show", "hw", "--storage", short], columns=70, cwd=here)
    lines = narrow.rstrip("\n").splitlines()
    assert len(lines) < 30 and max(len(ln) for ln in lines) <= 70, narrow
    shown = len(re.findall(r"^│", narrow, re.M))
    assert 3 <= shown < 8 and f"{shown} of {len(front)} front points shown" in " ".join(
        narrow.split()
    )
    assert re.search(rf"│ +{k.number} \(knee\) │", narrow), narrow
