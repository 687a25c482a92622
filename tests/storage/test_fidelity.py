"""The fidelity records reader: a good file, the shipped file, and bad files refused in a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nas.storage import fidelity
from nas.storage.fidelity import FidelityRecord, FidelityRecordError, lookup, read_records
from tests.storage.records import fidelity_record

GOOD: dict[str, Any] = fidelity_record()


def _write(tmp_path: Path, records: Any, name: str = "records.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records))
    return path


def test_a_good_file_is_read_and_looked_up_by_space_digest_data_and_scorer(
    tmp_path: Path,
) -> None:
    older = {**GOOD, "kendall_tau": 0.5, "measured": "2026-11-01"}
    other = {**GOOD, "data": "digits", "kendall_tau": 0.1, "kendall_tau_ci": [-0.1, 0.3]}
    path = _write(tmp_path, [older, GOOD, other])
    rec = lookup("mobile", "d1g3st", "fashion-mnist", "supernet", path=path)
    assert isinstance(rec, FidelityRecord)
    assert (rec.kendall_tau, rec.kendall_tau_ci, rec.architectures) == (0.62, (0.48, 0.74), 41)
    assert rec.measured == "2026-12-07"  # the latest of two measurements of the same set
    assert lookup("mobile", "d1g3st", "digits", "supernet", path=path).kendall_tau == 0.1  # type: ignore[union-attr]
    for miss in (
        ("mobile", "another-digest", "fashion-mnist", "supernet"),
        ("resnet", "d1g3st", "fashion-mnist", "supernet"),
        ("mobile", "d1g3st", "cifar10", "supernet"),
        ("mobile", "d1g3st", "fashion-mnist", "zero-cost:vote"),
    ):
        assert lookup(*miss, path=path) is None
    assert rec.line() == (
        "supernet inherited accuracy ranks 41 reference architectures (mobile v3, "
        "fashion-mnist, 2 seeds) with Kendall tau 0.62 [0.48, 0.74] (seed-to-seed 0.85); "
        "measured 2026-12-07"
    )
    assert rec.describe() == "mobile v3 on fashion-mnist"


def test_the_shipped_file_reads() -> None:
    assert fidelity.RECORDS.is_file()
    records = read_records()
    assert all(isinstance(r, FidelityRecord) for r in records)


@pytest.mark.parametrize(
    ("records", "said"),
    [
        ("{not json", "not JSON"),
        ({"space": "mobile"}, "must be a JSON list of records, got dict"),
        (["x"], "record 0: must be a JSON object"),
        ([{k: v for k, v in GOOD.items() if k != "seeds"}], "record 0: missing seeds"),
        ([{**GOOD, "colour": 1}], "record 0: unknown colour"),
        ([GOOD, {**GOOD, "kendall_tau": 1.3}], "record 1: kendall_tau must be a finite number"),
        ([{**GOOD, "spearman_rho": float("nan")}], "spearman_rho must be a finite number"),
        ([{**GOOD, "seed_tau": "high"}], "seed_tau must be a number in [-1, 1], got 'high'"),
        ([{**GOOD, "kendall_tau_ci": [0.7, 0.9]}], "kendall_tau_ci [0.7, 0.9] must hold"),
        ([{**GOOD, "kendall_tau_ci": [0.5]}], "kendall_tau_ci must be [low, high]"),
        ([{**GOOD, "architectures": 0}], "architectures must be a whole number >= 1, got 0"),
        ([{**GOOD, "seeds": 2.5}], "seeds must be a whole number >= 1, got 2.5"),
        ([{**GOOD, "space_version": True}], "space_version must be a whole number >= 1"),
        ([{**GOOD, "space_digest": ""}], "space_digest must be a non-empty string"),
        ([{**GOOD, "measured": "yesterday"}], "measured must be a date YYYY-MM-DD"),
    ],
)
def test_a_bad_file_is_refused_in_one_line(tmp_path: Path, records: Any, said: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(records if isinstance(records, str) else json.dumps(records))
    with pytest.raises(FidelityRecordError) as e:
        lookup("mobile", "d1g3st", "fashion-mnist", "supernet", path=path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and said in msg, msg


def test_a_missing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(FidelityRecordError, match=r"^fidelity records .*nope\.json: cannot read"):
        read_records(tmp_path / "nope.json")


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    import os

    path = _write(tmp_path, [])
    assert read_records(path) == ()
    path.write_text(json.dumps([GOOD]))
    os.utime(path, ns=(1, 10**18))  # a new modification time, however coarse the clock
    assert len(read_records(path)) == 1


def test_the_best_measured_scorer_is_the_one_auto_searches_with(tmp_path: Path) -> None:
    from nas.storage.fidelity import best_record

    naswot = {
        **GOOD,
        "scorer": "zero-cost:naswot",
        "kendall_tau": 0.56,
        "kendall_tau_ci": [0.4, 0.7],
    }
    stale = {
        **GOOD,
        "scorer": "zero-cost:synflow",
        "kendall_tau": 0.9,
        "measured": "2026-01-01",
        "kendall_tau_ci": [0.8, 0.95],
    }
    fresh = {**stale, "kendall_tau": 0.3, "kendall_tau_ci": [0.1, 0.5], "measured": "2026-12-07"}
    other_data = {**GOOD, "data": "digits", "kendall_tau": 0.99, "kendall_tau_ci": [0.9, 1.0]}
    path = _write(tmp_path, [GOOD, naswot, stale, fresh, other_data])
    best = best_record("mobile", "d1g3st", "fashion-mnist", path)
    # supernet 0.62 beats naswot 0.56; synflow's latest measurement (0.3) replaced its old 0.9
    assert best is not None and best.scorer == "supernet"
    assert best_record("mobile", "d1g3st", "cifar", path) is None
    assert best_record("mobile", "another-digest", "fashion-mnist", path) is None


def test_auto_resolves_to_the_best_record_for_the_space_and_data_else_the_supernet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas.evaluators.factory import auto_evaluator
    from nas.spaces import load_space

    space = load_space("mobile")
    record = {**GOOD, "space_digest": space.digest, "scorer": "zero-cost:naswot"}
    monkeypatch.setattr(fidelity, "RECORDS", _write(tmp_path, [record]))
    assert auto_evaluator(space, "fashion-mnist") == "zero-cost:naswot"
    assert auto_evaluator(space, "digits") == "supernet"  # nothing measured on digits
    assert auto_evaluator(load_space("resnet"), "fashion-mnist") == "supernet"
