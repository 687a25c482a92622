"""What each kind of study says about its accuracy and its fidelity (nas.analysis.evidence)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from optuna.trial import create_trial

from nas.analysis import evidence
from nas.storage import keys
from nas.storage.studies import StudySettings
from tests.storage.records import fidelity_record

SUPERNET = StudySettings(
    space="mobile",
    space_digest="d1g3st",
    data="fashion-mnist",
    data_fingerprint="f",
    strategy="nsga2",
    objective="pareto",
    target="cpu",
    evaluator="supernet",
    latency_weight=-0.07,
    seed=0,
)
RECORD = fidelity_record()


@pytest.fixture
def records(tmp_path: Path) -> str:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([RECORD]))
    return str(path)


def test_a_supernet_study_is_labelled_inherited_and_shows_its_fidelity(records: str) -> None:
    assert evidence.accuracy_title(SUPERNET) == "inherited acc (%)"
    assert evidence.accuracy_note(SUPERNET).startswith("inherited acc: scored with the super")
    own = replace(SUPERNET, fidelity="Kendall tau 0.30 over 14 architectures")
    lines = evidence.fidelity_lines(own, records)
    assert lines[0].startswith("fidelity: supernet inherited accuracy ranks 41 reference")
    assert (
        lines[1] == "fidelity of this study (bench_proxy): Kendall tau 0.30 over 14 architectures"
    )


def test_other_data_or_another_space_version_is_not_measured(records: str) -> None:
    for other in (replace(SUPERNET, data="digits"), replace(SUPERNET, space_digest="v4")):
        assert evidence.fidelity_lines(other, records) == [
            "fidelity: not measured for this space and data (reference sets: mobile v3 on "
            "fashion-mnist)"
        ]


def test_darts_is_inherited_but_never_matches_a_supernet_record(records: str) -> None:
    darts = replace(SUPERNET, strategy="darts")
    assert evidence.accuracy_name(darts) == "inherited acc"
    assert evidence.fidelity_lines(darts, records)[0].startswith("fidelity: not measured")


def test_table_and_synthetic_studies_keep_accuracy_and_need_no_fidelity(records: str) -> None:
    table = replace(SUPERNET, evaluator="table:nb201.csv", data="table:nb201.csv")
    synthetic = replace(SUPERNET, evaluator="synthetic:0.01")
    for s in (table, synthetic):
        assert evidence.accuracy_title(s) == "accuracy (%)"
        assert evidence.fidelity_lines(s, records) == []
    assert evidence.accuracy_note(table) == (
        "accuracy: the table's own (table:nb201.csv), as its authors trained each network"
    )
    assert "synthetic stand-in" in evidence.accuracy_note(synthetic)
    assert evidence.accuracy_title(None) == "accuracy (%)"
    assert evidence.fidelity_lines(None, records) == [] and evidence.accuracy_note(None) == ""


def test_no_records_or_a_bad_file_is_said_in_the_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert evidence.fidelity_lines(SUPERNET, str(empty)) == [
        "fidelity: not measured for this space and data (no reference set yet)"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**RECORD, "kendall_tau": 2}]))
    (line,) = evidence.fidelity_lines(SUPERNET, str(bad))
    assert line.startswith("fidelity: unknown, the reference records are unreadable (")
    assert "kendall_tau must be a finite number in [-1, 1], got 2" in line


def test_anchor_roles_follow_the_architecture_hash() -> None:
    def trial(number: int, h: str):  # type: ignore[no-untyped-def]
        t = create_trial(values=[0.5, 1.0], user_attrs={keys.ARCH_HASH: h})
        t.number = number
        return t

    trials = [trial(0, "big"), trial(1, "small"), trial(5, "mid"), trial(9, "big")]
    roles = evidence.anchor_roles({"big": "largest", "small": "smallest"}, trials)
    assert roles == {0: "largest", 1: "smallest", 9: "largest"}
    assert evidence.anchor_roles({}, trials) == {}
    assert "teacher" in evidence.anchor_note(SUPERNET)
    assert "teacher" not in evidence.anchor_note(replace(SUPERNET, evaluator="table:x.csv"))


def test_the_axis_of_each_kind_of_study() -> None:
    from nas.analysis.axis import AccuracyAxis

    assert evidence.axis_of(SUPERNET) == AccuracyAxis("inherited acc")
    assert evidence.axis_of(replace(SUPERNET, strategy="darts")).title == "inherited acc (%)"
    assert evidence.axis_of(replace(SUPERNET, evaluator="table:t.csv")) == AccuracyAxis()
    assert evidence.axis_of(None) == AccuracyAxis()
    zero_cost = replace(SUPERNET, evaluator="zero-cost:vote")
    assert evidence.axis_of(zero_cost) == AccuracyAxis("vote score", percent=False)
    assert evidence.accuracy_note(zero_cost).startswith("vote score: a zero-cost proxy")
    assert evidence.axis_of_run("supernet", "nsga2").name == "inherited acc"


def test_the_latency_axis_names_where_the_latency_comes_from() -> None:
    assert evidence.latency_title(SUPERNET) == "latency on cpu (ms, median)"
    ort = replace(SUPERNET, target="onnxruntime")
    assert evidence.latency_title(ort) == "latency on onnxruntime (ms, median)"
    table = replace(SUPERNET, evaluator="table:hw.csv", target="table:raspi4_latency_ms")
    assert evidence.latency_title(table) == "latency: the table's raspi4_latency_ms (ms)"
    assert evidence.latency_title(None) == "latency (ms, median)"
