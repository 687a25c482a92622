"""Architecture boundaries from STYLE.md, checked by parsing imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("nas/spaces", ("torch", "nas.supernet", "nas.storage", "nas.strategies", "nas.hardware")),
        ("nas/storage", ("torch", "nas.supernet", "nas.strategies", "nas.hardware")),
        ("nas/supernet", ("nas.strategies", "nas.storage", "nas.search")),
        ("dashboard", ("torch", "nas.supernet", "nas.strategies", "nas.hardware", "nas.search")),
    ],
)
def test_nothing_imports_upward(folder: str, forbidden: tuple[str, ...]) -> None:
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
