"""Architecture boundaries (docs/CONTRIBUTING.md), checked by parsing imports."""

from __future__ import annotations

import ast
import re
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
    {"nas.data", "nas.spaces", "nas.storage", "nas.listen", "nas.serving"},
    {"nas.analysis"},  # fronts, anytime curves, summaries over stored trials (no torch)
    {"nas.supernet", "dashboard"},
    {"nas.hardware"},
    {"nas.evaluators", "nas.export"},
    {"nas", "nas.strategies"},  # nas: the package root (nas.load)
    # the search lifecycle: options, driver, DARTS's driver, trial loop, objective, pool
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
            "bisect",  # the incremental front's binary search (standard library)
            "collections.abc",
        }


def test_the_graph_sees_an_upward_import(tmp_path: Path) -> None:
    """The checks above would fail on a new upward import (here: storage -> driver)."""
    f = tmp_path / "x.py"
    f.write_text("from nas.search.driver import run_search\n")
    known = set(importgraph.module_files())
    assert importgraph.imports_of(f, "nas.storage.x", known) == {"nas.search.driver"}
    f.write_text("if TYPE_CHECKING:\n    from nas.strategies import darts\n")
    assert importgraph.imports_of(f, "nas.storage.x", known) == {"nas.strategies.darts"}


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("nas/spaces", ("torch",)),
        ("nas/storage", ("torch",)),
        ("nas/analysis", ("torch",)),
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
        "import sys, nas.spaces, nas.storage, nas.analysis.results, nas.analysis.summaries; "
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


# ---- Optuna's internals: in nas/storage/optuna_compat.py only -------------------------------

COMPAT = ROOT / "nas" / "storage" / "optuna_compat.py"


def _optuna_private_names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Read from the installed Optuna: the private attribute names of its studies, trials and
    storages; the methods of its private heartbeat interface; its tables."""
    import optuna
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.storages._rdb.models import BaseModel

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=optuna.storages.RDBStorage("sqlite:///:memory:"))
    trial = study.ask()
    study.tell(trial, 1.0)
    objects: list[object] = [study, trial, study.trials[0], study._storage]
    objects += [type(o) for o in objects]
    objects += [optuna.storages.RDBStorage, optuna.storages.InMemoryStorage, BaseHeartbeat]
    objects += [optuna.storages.JournalStorage]
    private = {
        n
        for o in objects
        for n in {*dir(o), *getattr(o, "__dict__", {})}
        if n.startswith("_") and not n.startswith("__")
    }
    heartbeat = {n for n in vars(BaseHeartbeat) if not n.startswith("_")}
    tables = {*BaseModel.metadata.tables, "alembic_version"}
    return frozenset(private), frozenset(heartbeat), frozenset(tables)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _optuna_internals(source: str, names: tuple[frozenset[str], ...]) -> list[str]:
    """Lines of ``source`` that reach into Optuna: a private module or name imported from
    Optuna, a private attribute of its objects (on anything but ``self``/``cls``), its
    heartbeat interface, or SQL naming its tables."""
    private, heartbeat, tables = names
    sql = re.compile(
        r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+\"?(?:" + "|".join(sorted(tables)) + r")\b"
    )
    out = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            for a in node.names:
                full = f"{mod}.{a.name}" if mod else a.name
                if full.split(".")[0] == "optuna" and any(
                    p.startswith("_") for p in full.split(".")
                ):
                    out.append(f"{line}: imports {full}")
        elif isinstance(node, ast.Attribute):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            dotted = _dotted(node)
            if node.attr in private or node.attr in heartbeat:
                out.append(f"{line}: .{node.attr}")
            elif dotted.startswith("optuna.") and node.attr.startswith("_"):
                out.append(f"{line}: {dotted}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in private | heartbeat
        ):
            out.append(f"{line}: {node.func.id}(..., {node.args[1].value!r})")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and sql.search(node.value)
        ):
            out.append(f"{line}: SQL on Optuna's tables: {node.value[:60]!r}")
    return out


@pytest.fixture(scope="module")
def optuna_names() -> tuple[frozenset[str], ...]:
    return _optuna_private_names()


def test_only_the_compat_module_touches_optuna_internals(
    optuna_names: tuple[frozenset[str], ...],
) -> None:
    """Optuna's private attributes, modules and tables change without notice; the one module
    that uses them is checked against Optuna's schema revision (docs/CONTRIBUTING.md)."""
    bad = [
        f"{f.relative_to(ROOT)}:{hit}"
        for f in _files("nas") + _files("dashboard")
        if f != COMPAT
        for hit in _optuna_internals(f.read_text(), optuna_names)
    ]
    assert not bad, "move these into nas/storage/optuna_compat.py:\n" + "\n".join(bad)


def test_the_scan_sees_each_kind_of_optuna_internal(
    optuna_names: tuple[frozenset[str], ...],
) -> None:
    cases = {
        "from optuna.samplers._base import _process_constraints_after_trial\n": "imports",
        "import optuna.storages._rdb.models\n": "imports",
        "x = optuna.storages._rdb\n": "optuna.storages._rdb",
        "study._storage.get_trial(1)\n": "._storage",
        "n = trial._trial_id\n": "._trial_id",
        "s.record_heartbeat(1)\n": ".record_heartbeat",
        "getattr(s, 'get_heartbeat_stale_trial_callback', None)\n": "getattr",
        "q = 'SELECT COUNT(*) FROM trials'\n": "SQL",
        "q = 'SELECT 1 FROM trial_values v JOIN studies s'\n": "SQL",
    }
    for source, kind in cases.items():
        hits = _optuna_internals(source, optuna_names)
        assert len(hits) == 1 and kind in hits[0], (source, hits)
    for fine in (
        "self._storage = 1\n",
        "q = 'SELECT 1 FROM nas_budget_slots'\n",
        "'the trials from studies'\n",
        "from optuna.trial import FrozenTrial\n",
    ):
        assert _optuna_internals(fine, optuna_names) == [], fine
    assert _optuna_internals(COMPAT.read_text(), optuna_names)  # what the module is for


# ---- names are imported from where they live ----------------------------------------------


def _module_names(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(names defined, names imported, ``__all__``) at the top level of a module, also under
    top-level ``if``/``try`` blocks, never inside functions or classes."""
    defined: set[str] = set()
    imported: set[str] = set()
    public: set[str] = set()
    todo = list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            defined |= names
            if "__all__" in names and isinstance(node.value, ast.List | ast.Tuple):
                public |= {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If | ast.Try):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", [])]
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return defined, imported - defined, public


def _borrowed_imports(files: list[Path]) -> list[str]:
    """``from M import X`` where the library module M does not define X but imports it from
    elsewhere: a re-export that hides where X lives. A package's ``__init__`` may hand on
    what its ``__all__`` lists (its public face); modules of the package are imported as such."""
    modules = importgraph.module_files()
    names = {m: _module_names(f) for m, f in modules.items()}
    out = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0):
                continue
            if node.module not in modules:
                continue
            defined, imported, public = names[node.module]
            facade = modules[node.module].name == "__init__.py"
            for a in node.names:
                if f"{node.module}.{a.name}" in modules or a.name in defined:
                    continue
                if facade and a.name in public:
                    continue
                if a.name in imported:
                    where = f.relative_to(ROOT) if f.is_relative_to(ROOT) else f
                    out.append(f"{where}:{node.lineno}: {node.module}.{a.name}")
    return out


def test_names_are_imported_from_where_they_live() -> None:
    files = [f for d in ("nas", "dashboard", "tests", "benchmarks") for f in _files(d)]
    bad = _borrowed_imports(files)
    assert not bad, "import these from the module that defines them:\n" + "\n".join(bad)


def test_the_scan_sees_a_re_export(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("from nas.search.driver import SearchOptions\nfrom nas.storage import Store\n")
    assert _borrowed_imports([f]) == [f"{f}:1: nas.search.driver.SearchOptions"]
