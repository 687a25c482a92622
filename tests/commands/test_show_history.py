"""``nas show STUDY --history``: anytime results trial by trial, failed trials included."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState, create_trial

from nas.cli import main
from nas.storage import Store, keys
from nas.storage import studies as st
from nas.storage.studies import StudySettings


def _study(url: str, name: str, results: list[tuple[float, float] | None], **settings):
    store = Store(url)
    s = StudySettings(
        space="nb201", space_digest="d", data="table:t.csv", data_fingerprint="f",
        strategy="evolution", objective="pareto", target="table:latency_ms",
        **{"evaluator": "supernet", "latency_weight": -0.07, "seed": 0, **settings},
    )  # fmt: skip
    study = st.create_or_resume(store, name, s, budget=len(results))
    for r in results:
        if r is None:
            study.add_trial(create_trial(state=TrialState.FAIL))
        else:
            attrs = {keys.ACCURACY: r[0], keys.LATENCY_MS: r[1]}
            study.add_trial(create_trial(values=list(r), user_attrs=attrs))


def _rows(out: str) -> list[list[str]]:
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 5 and cells[0].isdigit():
            rows.append(cells)
    return rows


TRIALS = [(0.5, 5.0), None, (0.4, 2.0), None, (0.9, 20.0), (0.7, 4.0)]


def test_history_trial_by_trial_counts_failed_trials(storage_url: str, capsys) -> None:
    _study(storage_url, "h", TRIALS)
    assert main(["show", "h", "--storage", storage_url, "--history", "--ref-ms", "30"]) == 0
    out = capsys.readouterr().out
    assert "4 completed, 2 failed trials" in out and "(0, 30 ms)" in out
    # hypervolume by hand: staircase areas up to latency 30
    assert _rows(out) == [
        ["1", "0", "0", "50.00", "12.5"],
        ["2", "2", "1", "50.00", "13.7"],  # 0.4*3 + 0.5*25
        ["3", "4", "2", "90.00", "17.7"],  # 0.4*3 + 0.5*15 + 0.9*10
        ["4", "5", "2", "90.00", "21"],  # (0.5, 5) is dominated by (0.7, 4) now
    ]


def test_history_at_checkpoints_and_with_the_latency_cap(storage_url: str, capsys) -> None:
    _study(storage_url, "c", TRIALS, max_latency_ms=10.0)
    argv = ["show", "c", "--storage", storage_url, "--history", "--every", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # reference = the study's cap; the 20 ms trial is infeasible and improves nothing
    assert "(0, 10 ms)" in out
    assert _rows(out) == [["3", "4", "2", "50.00", "3.7"], ["4", "5", "2", "70.00", "5"]]


def test_history_of_a_study_without_results(storage_url: str, capsys) -> None:
    _study(storage_url, "f", [None, None, (0.9, 50.0)], max_latency_ms=10.0)
    assert main(["show", "f", "--storage", storage_url, "--history"]) == 0
    out = capsys.readouterr().out
    assert "1 completed, 2 failed trials" in out
    assert _rows(out) == [["1", "2", "2", "-", "0"]]


@pytest.mark.parametrize(("flag", "value"), [("--every", "0"), ("--ref-ms", "-1")])
def test_bad_history_options_exit_2(storage_url: str, capsys, flag: str, value: str) -> None:
    _study(storage_url, "b", TRIALS[:1])
    assert main(["show", "b", "--storage", storage_url, "--history", flag, value]) == 2
    assert flag in capsys.readouterr().err
