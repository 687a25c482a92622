"""Reference sets: the CSV's schema, its checks, and the recipe's determinism."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from nas.analysis.reference import (
    COLUMNS,
    ReferenceError,
    ReferenceRow,
    append_rows,
    by_arch,
    read_rows,
)

ROOT = Path(__file__).resolve().parents[2]


def _row(seed: int, acc: float, h: str = "abc") -> ReferenceRow:
    return ReferenceRow(h, "w8: k3e1", {"stage0.depth": 1}, seed, acc, 10_000, 1234, 5678, 1.5)


def test_rows_round_trip_and_group_by_architecture(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    assert read_rows(path) == []  # a set being started
    append_rows(path, [_row(0, 0.8512)])
    append_rows(path, [_row(1, 0.8498), _row(0, 0.9, "def")])
    rows = read_rows(path)
    assert [r.val_acc for r in rows] == [0.8512, 0.8498, 0.9]
    with path.open() as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    (a, b) = by_arch(rows)
    assert a.accs == {0: 0.8512, 1: 0.8498} and a.mean_acc == pytest.approx(0.8505)
    assert b.arch_hash == "def" and b.accs == {0: 0.9}


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("val_acc", "nan", "fraction"),
        ("val_acc", "87.5", "fraction"),  # a percentage where a fraction belongs
        ("arch_json", "[1, 2]", "JSON object"),
        ("seed", "x", "not a reference row"),
    ],
)
def test_a_bad_value_is_refused_with_its_line(
    tmp_path: Path, column: str, value: str, says: str
) -> None:
    path = tmp_path / "ref.csv"
    append_rows(path, [_row(0, 0.85), _row(1, 0.86)])
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    bad = next(csv.reader([lines[2]]))
    bad[header.index(column)] = value
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerow(next(csv.reader([lines[1]])))
        w.writerow(bad)
    with pytest.raises(ReferenceError, match=f"ref.csv:3: .*{says}"):
        read_rows(path)


def test_a_file_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("arch,acc\nx,0.5\n")
    with pytest.raises(ReferenceError, match="header must be"):
        read_rows(path)


def test_a_seed_recorded_twice_differently_is_refused() -> None:
    with pytest.raises(ReferenceError, match="seed 0 appears twice"):
        by_arch([_row(0, 0.85), _row(0, 0.86)])


def test_the_committed_reference_sets_read_back() -> None:
    """Every committed set parses, and each architecture has at least two seeds (a set is
    committed once finished; this test does not regenerate it)."""
    sets = sorted((ROOT / "benchmarks" / "reference").glob("*.csv"))
    for path in sets:
        archs = by_arch(read_rows(path))
        assert len(archs) >= 3, path
        assert all(len(a.accs) >= 2 for a in archs), path


def test_the_recipe_is_deterministic_on_a_tiny_case(tiny_space, tiny_data) -> None:
    import torch

    from nas.supernet.standalone import StandaloneRecipe, train_standalone

    recipe = StandaloneRecipe(train_images=len(tiny_data.y_train), epochs=1, batch_size=64)
    arch = tiny_space.sample(random.Random(2))
    state = torch.random.get_rng_state()
    first = train_standalone(tiny_space, arch, tiny_data, recipe, seed=3)
    again = train_standalone(tiny_space, arch, tiny_data, recipe, seed=3)
    other = train_standalone(tiny_space, arch, tiny_data, recipe, seed=4)
    assert first.val_acc == again.val_acc  # same seed, same accuracy, bit for bit
    assert first.val_acc != other.val_acc or first.params == other.params
    assert 0.0 < first.val_acc <= 1.0 and first.val_images == len(tiny_data.y_val)
    # the caller's global random state is untouched
    assert torch.equal(torch.random.get_rng_state(), state)
