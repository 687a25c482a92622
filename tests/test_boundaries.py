"""Architecture boundaries (docs/CONTRIBUTING.md), checked by parsing imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests import importgraph
from tests.conftest import ROOT, subprocess_env


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


# Every package and top-level module of the library, lowest first: a part imports only parts
# of lower tiers (see docs/CONTRIBUTING.md). A new part must be placed here.
TIERS: list[set[str]] = [
    # nas.pareto: dominance, ranks, knee, hypervolume (numpy only; every layer uses it)
    {"nas.errors", "nas.version", "nas.atomic", "nas.reporting", "nas.client", "nas.pareto"},
    {"nas.limits"},  # the caps of input from outside: imports nas.errors only
    {"nas.data", "nas.spaces", "nas.storage", "nas.listen"},
    {"nas.supernet", "nas.pool", "dashboard"},
    {"nas.hardware", "nas.checkpoint"},
    {"nas.evaluators", "nas.export"},
    {"nas", "nas.objective"},  # nas: the package root (nas.load)
    {"nas.loop", "nas.strategies"},
    {"nas.options"},
    {"nas.search"},
    {"nas.service"},
    {"nas.commands"},
    {"nas.cli"},
    {"nas.__main__"},
]
TIER = {u: i for i, tier in enumerate(TIERS) for u in tier}


def test_every_part_has_a_tier() -> None:
    parts = {importgraph.unit(m) for m in importgraph.module_files()}
    assert parts == set(TIER), f"place these in TIERS: {sorted(parts ^ set(TIER))}"


def test_nothing_imports_upward() -> None:
    bad = [
        f"{m} imports {d}"
        for m, deps in importgraph.graph().items()
        for d in deps
        if importgraph.unit(d) != importgraph.unit(m)
        and TIER[importgraph.unit(d)] >= TIER[importgraph.unit(m)]
    ]
    assert not bad, "\n".join(bad)


def test_no_import_loops_but_the_registries() -> None:
    """The one loop allowed is a registry's: ``pkg.base`` (or ``pkg.target``) imports
    ``pkg.builtins`` to fill itself, whose modules register through ``pkg.base``."""
    g = importgraph.graph()
    assert importgraph.loops(importgraph.unit_graph(g)) == []
    for loop in importgraph.loops(g):
        pkg = loop[0].rpartition(".")[0]
        assert all(m.rpartition(".")[0] == pkg for m in loop), loop
        assert f"{pkg}.builtins" in loop, f"not a registry: {loop}"


def test_leaf_modules_import_nothing_of_the_library() -> None:
    """nas.pareto is used by storage, strategies, evaluators and the dashboard alike."""
    g = importgraph.graph()
    for leaf in ("nas.pareto",):
        assert g[leaf] == set(), f"{leaf} imports {sorted(g[leaf])}"
        assert _imports(ROOT / "nas" / "pareto.py") <= {"__future__", "math", "numpy"} | {
            "collections.abc"
        }


def test_the_graph_sees_an_upward_import(tmp_path: Path) -> None:
    """The checks above would fail on a new upward import (here: storage -> search)."""
    f = tmp_path / "x.py"
    f.write_text("from nas.search import run_search\n")
    known = set(importgraph.module_files())
    assert importgraph.imports_of(f, "nas.storage.x", known) == {"nas.search"}
    f.write_text("if TYPE_CHECKING:\n    from nas.strategies import darts\n")
    assert importgraph.imports_of(f, "nas.storage.x", known) == {"nas.strategies.darts"}


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("nas/spaces", ("torch",)),
        ("nas/storage", ("torch",)),
        ("dashboard", ("torch",)),
    ],
)
def test_torch_free_parts_do_not_name_torch(folder: str, forbidden: tuple[str, ...]) -> None:
    for f in _files(folder):
        for mod in _imports(f):
            for bad in forbidden:
                assert not (mod == bad or mod.startswith(bad + ".")), f"{f}: imports {mod}"


def test_spaces_and_storage_import_without_torch() -> None:
    code = (
        "import sys, nas.spaces, nas.storage, nas.storage.results, nas.storage.summaries; "
        "import nas.spaces.optuna_adapter; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True)
    assert r.returncode == 0, r.stderr


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from nas.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True)
    assert r.returncode == 0, r.stderr
