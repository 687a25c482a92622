"""The library's import graph, read from the source with ``ast`` (nothing is imported).

Used by tests/test_boundaries.py, and as a report of the structure:

    python -m tests.importgraph      # lines, functions over 60 lines, import loops

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a dependency
that only type checkers follow is still one a reader has to hold in mind.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "dashboard")
LONG = 60  # lines; a longer function says why in a comment (see docs/CONTRIBUTING.md)


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the library."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The library modules ``path`` (module ``name``) imports, resolved to modules of ``known``."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # ``from nas.x import y`` imports module nas.x.y when there is one, else nas.x
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {m: imports_of(f, m, known) for m, f in files.items()}


def unit(module: str) -> str:
    """The part a module belongs to: its sub-package (``nas.storage``), or itself for a
    top-level module (``nas.search.driver``); ``dashboard`` is one part."""
    parts = module.split(".")
    if parts[0] == "dashboard":
        return "dashboard"
    if len(parts) >= 2 and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def loops(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan's algorithm; the
    standard library has none and this is fifteen lines)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def unit_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m, deps in g.items():
        u = unit(m)
        out.setdefault(u, set()).update(unit(d) for d in deps if unit(d) != u)
    return out


def long_functions() -> Iterator[tuple[str, str, int]]:
    """(file, function, lines) of every function longer than ``LONG`` lines."""
    for f in module_files().values():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > LONG:
                    yield str(f.relative_to(ROOT)), node.name, n


def main() -> None:
    files = module_files()
    lines = sum(len(f.read_text().splitlines()) for f in files.values())
    g = graph()
    print(f"library: {len(files)} modules, {lines} lines in {', '.join(PACKAGES)}")
    long = sorted(long_functions(), key=lambda x: -x[2])
    print(f"functions over {LONG} lines: {len(long)}")
    for f, fn, n in long:
        print(f"  {n:4d}  {f}:{fn}")
    module_loops, unit_loops = loops(g), loops(unit_graph(g))
    print(f"import loops between modules: {len(module_loops)}")
    for c in module_loops:
        print("  " + " <-> ".join(c))
    print(f"import loops between packages and top-level modules: {len(unit_loops)}")
    for c in unit_loops:
        print("  " + " <-> ".join(c))


if __name__ == "__main__":
    main()
