"""The docs against the registries: the lists of spaces, strategies, targets and evaluators in
docs/bad-input.md and docs/spaces.md are the tool's own, so a new plug-in cannot leave them
behind (they drifted once: issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nas.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"

# the rows of docs/bad-input.md that print a registry's names
UNKNOWN = [
    ["search", "--space", "nosuch"],
    ["search", "--strategy", "annealing"],
    ["search", "--target", "tpu"],
    ["search", "--evaluator", "oracle"],
    ["search", "--evaluator", "zero-cost:nosuch"],
]


@pytest.mark.parametrize("argv", UNKNOWN, ids=lambda a: a[1])
def test_bad_input_doc_prints_what_the_tool_prints(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main([*argv, "--storage", url]) == 2
    line = capsys.readouterr().err.strip()
    doc = (DOCS / "bad-input.md").read_text()
    row = next(r for r in doc.splitlines() if f"`nas {' '.join(argv)}`" in r)
    assert f"`{line}`" in row, f"docs/bad-input.md says {row!r}; the tool says {line!r}"
    assert not (tmp_path / "studies.db").exists()


def test_spaces_doc_lists_every_space_and_the_strategies_each_takes() -> None:
    from nas.spaces import load_space
    from nas.spaces.loader import builtin_names
    from nas.strategies.base import get_strategy, strategy_names

    doc = (DOCS / "spaces.md").read_text()
    rows = {
        m.group(1): [s.strip() for s in m.group(2).split(",")]
        for m in re.finditer(r"^\| `([\w.-]+)` \|.*\| ([\w, ]+) \|$", doc, re.M)
    }
    assert set(rows) == set(builtin_names())
    sampler = [n for n in strategy_names() if get_strategy(n).driver == "sampler"]
    gradient = [n for n in strategy_names() if get_strategy(n).driver != "sampler"]
    for name, listed in rows.items():
        cell = load_space(name).kind in ("nb201", "darts")  # DARTS needs mixed edges
        assert sorted(listed) == sorted(sampler + (gradient if cell else [])), name
