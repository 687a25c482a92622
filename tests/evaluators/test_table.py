"""The tabular evaluator on the sample NAS-Bench-201 table: exact look-ups, stored rows, errors."""

from __future__ import annotations

import csv
import os
import re
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.evaluators.base import CandidateError
from nas.evaluators.table import TableError, TableEvaluator, TableSpec
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.spaces import load_space
from nas.storage import keys
from tests.conftest import ROOT, nas_cmd, subprocess_env

# beside the checkout; NAS_BENCH_DIR points elsewhere (a git worktree, say)
BENCH = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench")
SAMPLE = BENCH / "nb201_synthetic.csv"
pytestmark = pytest.mark.skipif(
    not SAMPLE.exists(), reason="shared/bench is not beside the checkout"
)
COLUMNS = ["arch", "accuracy", "latency_ms", "params_m"]


@pytest.fixture(scope="module")
def nb201():
    return load_space("nb201")


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    with SAMPLE.open() as f:
        return {r["arch"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def evaluator(nb201) -> TableEvaluator:
    return TableEvaluator(nb201, TableSpec(SAMPLE))


def _write(path: Path, header: list[str], lines: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(lines)
    return path


def test_values_are_the_tables_exactly(nb201, rows, evaluator) -> None:
    assert len(evaluator) == 15625
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    for key in [resnet, next(iter(rows)), *list(rows)[5000:15625:1111]]:
        arch = nb201.parse(key)
        ev = evaluator.evaluate(arch, nb201.hash(arch))
        row = rows[key]
        assert ev.accuracy == float(row["accuracy"]) / 100  # percent in the file, a fraction here
        assert ev.latency_ms == float(row["latency_ms"])
        stored = ev.attrs[keys.TABLE_ROW]
        assert list(stored) == COLUMNS
        assert stored["arch"] == key
        assert [stored[c] for c in COLUMNS[1:]] == [float(row[c]) for c in COLUMNS[1:]]
        assert ev.attrs[keys.LATENCY_SOURCE] == "table"


def test_other_columns_are_searched_when_named(nb201, rows) -> None:
    ev = TableEvaluator(nb201, TableSpec(SAMPLE, "params_m", "accuracy"))
    key = list(rows)[123]
    got = ev.evaluate(nb201.parse(key), "")
    assert got.accuracy == float(rows[key]["params_m"]) / 100
    assert got.latency_ms == float(rows[key]["accuracy"])


def test_a_missing_key_fails_the_candidate_naming_it(nb201, rows, tmp_path) -> None:
    keys_ = list(rows)
    missing = keys_[7]
    table = _write(
        tmp_path / "part.csv",
        COLUMNS,
        [[rows[k][c] for c in COLUMNS] for k in keys_ if k != missing],
    )
    ev = TableEvaluator(nb201, TableSpec(table))
    with pytest.raises(CandidateError) as info:
        ev.evaluate(nb201.parse(missing), "")
    assert str(info.value) == (
        f"architecture {missing} is not in table part.csv (15624 rows keyed by column 'arch')"
    )


@pytest.mark.parametrize(
    ("header", "line", "spec", "message"),
    [
        (COLUMNS, None, {"accuracy_column": "acc"}, "has no accuracy column 'acc'; its columns"),
        (COLUMNS, None, {"latency_column": "ms"}, "has no latency column 'ms'"),
        (["key", "accuracy", "latency_ms"], ["x", "1", "1"], {}, "has no key column 'arch'"),
        (
            COLUMNS,
            ["|a~0|", "150", "1", "1"],
            {},
            "must hold percentages in [0, 100]; found 150",
        ),
        (COLUMNS, ["|a~0|", "fast", "1", "1"], {}, "column 'accuracy' of table t.csv is not"),
        (COLUMNS, ["|a~0|", "50", "1", "1"], {}, "has none of 16 sampled architectures"),
    ],
)
def test_bad_tables_are_refused(nb201, tmp_path, header, line, spec, message) -> None:
    table = tmp_path / "t.csv"
    if line is None:
        table.write_bytes(SAMPLE.read_bytes())
    else:
        _write(table, header, [line])
    with pytest.raises(TableError, match=None) as info:
        TableEvaluator(nb201, TableSpec(table, **spec))
    assert message in str(info.value)


def test_rows_that_are_not_architectures_are_refused(nb201, rows, tmp_path) -> None:
    """A row the search can never sample (a typo'd key, another space's key) is named, not
    ignored: the table is refused in one line with the first such row's line number."""
    lines = [[row[c] for c in COLUMNS] for row in rows.values()]
    lines.insert(3, ["|nor_conv_3x3~0|+|oops~0|", "50", "1", "1"])
    table = _write(tmp_path / "t.csv", COLUMNS, lines)
    with pytest.raises(TableError) as info:
        TableEvaluator(nb201, TableSpec(table))
    assert f"1 of {len(lines)} keys are not architectures of space 'nb201' (line 5:" in str(
        info.value
    )
    macro = tmp_path / "m.csv"  # NAS-Bench-Macro's keys are one digit per layer
    macro.write_text((BENCH / "nas_bench_macro_cifar10.csv").read_text() + "0120,1,1,1,1,0,1,1\n")
    with pytest.raises(TableError, match=r"1 of 6562 keys are not .* \(line 6563: '0120'\)"):
        TableEvaluator(load_space("macro"), TableSpec(macro, "mean_acc", None))


def test_repeated_keys_and_missing_files_are_refused(nb201, rows, tmp_path) -> None:
    k = next(iter(rows))
    table = _write(tmp_path / "d.csv", COLUMNS, [[rows[k][c] for c in COLUMNS]] * 2)
    with pytest.raises(TableError, match="more than once"):
        TableEvaluator(nb201, TableSpec(table))
    with pytest.raises(TableError, match="does not exist"):
        TableEvaluator(nb201, TableSpec(tmp_path / "nope.csv"))


def _opts(url: str, **kw) -> SearchOptions:
    base = dict(space="nb201", evaluator=f"table:{SAMPLE}", storage=url, study="t", budget=6)
    return SearchOptions(**{**base, **kw})


def test_search_on_the_table_trains_nothing_and_stores_every_column(
    nb201, rows, storage_url, tmp_path
) -> None:
    result = run_search(_opts(storage_url, strategy="evolution", budget=14, seed=3))
    assert result.completed == 14 and result.supernet == ""
    assert not (tmp_path / "nas_checkpoints").exists()
    s = result.settings
    assert s.evaluator == f"table:{SAMPLE.resolve()} accuracy=accuracy latency=latency_ms"
    assert (s.data, s.target) == ("table:nb201_synthetic.csv", "table:latency_ms")
    study = optuna.load_study(study_name="t", storage=storage_url)
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        row = rows[t.user_attrs[keys.ARCH_STR]]
        assert t.values == [float(row["accuracy"]) / 100, float(row["latency_ms"])]
        assert t.user_attrs[keys.TABLE_ROW]["params_m"] == float(row["params_m"])
    # resume: the first 14 trials stay as they were
    before = {t.number: t.params for t in study.trials}
    run_search(_opts(storage_url, strategy="evolution", budget=20, seed=3))
    study = optuna.load_study(study_name="t", storage=storage_url)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 20
    assert {n: study.trials[n].params for n in before} == before


def test_a_missing_key_fails_one_trial_and_the_search_goes_on(
    nb201, rows, storage_url, tmp_path
) -> None:
    keys_ = list(rows)
    missing = keys_[100]
    table = _write(
        tmp_path / "part.csv",
        COLUMNS,
        [[rows[k][c] for c in COLUMNS] for k in keys_ if k != missing],
    )
    run_search(_opts(storage_url, evaluator=f"table:{table}", budget=2, strategy="random"))
    study = optuna.load_study(study_name="t", storage=storage_url)
    study.enqueue_trial(nb201.to_params(nb201.parse(missing)))
    run_search(_opts(storage_url, evaluator=f"table:{table}", budget=4, strategy="random"))
    study = optuna.load_study(study_name="t", storage=storage_url)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 1 and len(study.get_trials(states=(TrialState.COMPLETE,))) == 4
    assert failed[0].user_attrs["fail_reason"].startswith(f"architecture {missing} is not in")


def test_resume_with_another_column_is_refused(storage_url) -> None:
    from nas.errors import StorageError

    run_search(_opts(storage_url, budget=2, strategy="random"))
    with pytest.raises(StorageError, match="created with evaluator="):
        run_search(_opts(storage_url, budget=3, strategy="random", accuracy_column="params_m"))


def test_table_options_are_checked(storage_url) -> None:
    from nas.errors import OptionError

    with pytest.raises(OptionError, match="need --evaluator table:PATH"):
        run_search(SearchOptions(space="nb201", storage=storage_url, accuracy_column="x"))
    with pytest.raises(OptionError, match="needs the table's path"):
        run_search(_opts(storage_url, evaluator="table:"))
    with pytest.raises(OptionError, match="--data is not used"):
        run_search(_opts(storage_url, data="digits"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        nas_cmd(*args), capture_output=True, text=True, cwd=cwd, env=subprocess_env(), timeout=300
    )


def test_cli_table_search_and_bad_column_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    common = ["--space", "nb201", "--evaluator", f"table:{SAMPLE}", "--storage", f"sqlite:///{db}"]
    bad = _cli("search", *common, "--accuracy-column", "top1", cwd=tmp_path)
    assert bad.returncode == 2
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("nas: error: table nb201_synthetic.csv has no accuracy column")
    assert not db.exists()
    missing = _cli(
        "search", *common[:2], "--evaluator", "table:nope.csv", "--storage", f"sqlite:///{db}",
        cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode == 2 and "nope.csv does not exist" in missing.stderr
    assert not db.exists()
    ok = _cli(
        "search", *common, "--budget", "5", "--strategy", "evolution", "--study", "cli",
        "--accuracy-column", "accuracy", "--latency-column", "latency_ms", cwd=tmp_path,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "Pareto front of cli" in ok.stdout and "supernet" not in ok.stdout
    assert not (tmp_path / "nas_checkpoints").exists()


def test_a_partial_table_completes_the_budget_around_missing_cells(
    rows, storage_url, tmp_path
) -> None:
    keys_ = list(rows)
    table = _write(
        tmp_path / "most.csv",
        COLUMNS,
        [[rows[k][c] for c in COLUMNS] for i, k in enumerate(keys_) if i % 5],
    )
    result = run_search(_opts(storage_url, evaluator=f"table:{table}", budget=25, seed=1))
    study = optuna.load_study(study_name="t", storage=storage_url)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert result.completed == 25 and len(failed) >= 1  # a fifth of the cells are missing
    assert all("is not in table most.csv" in t.user_attrs["fail_reason"] for t in failed)


def test_five_failures_in_a_row_stop_the_search_with_the_reason(
    nb201, rows, storage_url, tmp_path
) -> None:
    import random

    rng = random.Random(0)  # the evaluator's own probes: the table passes its check
    probes = {nb201.describe(nb201.sample(rng)) for _ in range(16)}
    table = _write(tmp_path / "few.csv", COLUMNS, [[rows[k][c] for c in COLUMNS] for k in probes])
    with pytest.raises(CandidateError, match=r"5 candidates failed in a row; the last: archi"):
        run_search(_opts(storage_url, evaluator=f"table:{table}", budget=3, strategy="random"))
    study = optuna.load_study(study_name="t", storage=storage_url)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 5


def test_a_table_study_offers_no_export_and_shows_its_test_column(nb201, rows, tmp_path) -> None:
    """Where a user meets a table study: the search's hints, ``nas show`` at 80 columns (the
    held-out test column beside the searched one), ``nas export`` and the dashboard."""
    from dashboard.data import Reader
    from dashboard.layout import arch_panel
    from dashboard.report import render_report
    from tests.commands.test_tables_80_columns import _in_pty
    from tests.dashboard.test_dashboard_views import _texts

    header = ["arch", "cifar10_valid", "cifar10_test", "latency_ms"]
    table = _write(
        tmp_path / "bench.csv",
        header,
        [
            [k, r["accuracy"], f"{float(r['accuracy']) - 1:.3f}", r["latency_ms"]]
            for k, r in rows.items()
        ],
    )
    url = "sqlite:///studies.db"
    found = _cli(
        "search", "--space", "nb201", "--evaluator", f"table:{table}", "--study", "tab",
        "--accuracy-column", "cifar10_valid", "--budget", "5", "--storage", url, cwd=tmp_path,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    hints = found.stdout.split("next:\n", 1)[1]
    assert "optuna-dashboard sqlite:///studies.db" in hints and "nas export" not in hints

    out = _in_pty(["show", "tab", "--storage", url], cwd=tmp_path)
    assert max(len(ln) for ln in out.splitlines()) <= 80 and "…" not in out, out
    assert "nas export" not in out and "nas report tab" in out
    assert "--calib-batches" not in out and "--supernet-epochs" not in out  # nothing trained
    assert re.search(r"┃ +trial ┃ acc % ± se ┃ test % ┃", out), out
    study = optuna.load_study(study_name="tab", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    shown = 0
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        test = float(rows[t.user_attrs[keys.ARCH_STR]]["accuracy"]) - 1
        shown += bool(re.search(rf"│ +{t.number}( \([a-z, ]+\))? │ +[\d.]+ │ +{test:.2f} │", out))
    assert shown >= 1, out

    refused = _cli("export", "tab", "--out", "exp", "--storage", url, cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "looked its accuracies up in a table" in refused.stderr
    assert not (tmp_path / "exp").exists()

    d = Reader(f"sqlite:///{tmp_path / 'studies.db'}").study("tab")
    panel = _texts(arch_panel(d, 0, url))
    assert "export-none" in panel and "export-cmd" not in panel and "nas export" not in panel
    html = render_report(Reader(f"sqlite:///{tmp_path / 'studies.db'}"), "tab")
    assert "Nothing to export: study" in html and "nas export" not in html
