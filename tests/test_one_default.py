"""Each default of ``nas search`` has one definition: its ``Field`` in nas/search/options.py.

A study records its options with every default resolved (nas/storage/plan.py), so a reader
indexes the record; one that falls back on a literal (``o.get("calib_batches", 4)``,
``opts.supernet_epochs or 20``) restates a default that can drift from the declared one. This
test parses the library (``ast``; nothing is imported but the options) and fails on:

- ``x.get("<option>", <default>)`` or ``getattr(x, "<option>", <default>)`` with a default
  other than ``None``;
- ``<option> or <number>``, or ``<option> or "<a SearchOptions default>"``, where ``<option>``
  is an attribute, a subscript or a ``.get`` of an option's name;
- a class with six or more fields named after options (a copy of the options, such as the
  evaluator's or the study settings') that gives any of them a default other than ``None`` or
  ``""`` (not given). Smaller configurations (a DARTS run's, compression's) own their values.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.search.options import SearchOptions
from tests.conftest import ROOT

FIELDS = {name: f.default for name, f in SearchOptions.model_fields.items()}
STRING_DEFAULTS = {v for v in FIELDS.values() if isinstance(v, str)}
# the declaration, and the values releases before an option ran with (facts, not defaults)
HOME = {"nas/search/options.py", "nas/storage/plan.py"}
MIRROR = 6  # option-named fields that make a class a copy of the options


def _literal(node: ast.expr) -> tuple[bool, object]:
    """``(True, value)`` for a literal (``-0.07`` too), else ``(False, None)``."""
    try:
        return True, ast.literal_eval(node)
    except ValueError:
        return False, None


def _names_option(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in FIELDS
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in FIELDS
    return _key_of_get(node) is not None


def _key_of_get(node: ast.expr) -> str | None:
    """The option ``x.get("<option>", ...)`` reads, else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in FIELDS
    ):
        return str(node.args[0].value)
    return None


def _restated(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        fallback: ast.expr | None = None
        if _key_of_get(node) and len(node.args) == 2:  # type: ignore[attr-defined]
            fallback = node.args[1]  # type: ignore[attr-defined]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in FIELDS
        ):
            fallback = node.args[2]
        if fallback is not None and _literal(fallback) != (True, None):
            yield node.lineno, ast.unparse(node)
        if (
            isinstance(node, ast.BoolOp)
            and isinstance(node.op, ast.Or)
            and any(_names_option(v) for v in node.values)
        ):
            for v in node.values:
                ok, value = _literal(v)
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if ok and (number or value in STRING_DEFAULTS):
                    yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.ClassDef):
            yield from _mirrored(node)


def _mirrored(cls: ast.ClassDef) -> Iterator[tuple[int, str]]:
    fields = [
        s
        for s in cls.body
        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
        if s.target.id in FIELDS
    ]
    if len(fields) < MIRROR:
        return
    for s in fields:
        if s.value is not None and _literal(s.value) not in ((True, None), (True, "")):
            yield s.lineno, f"{cls.name}.{ast.unparse(s)}"


def _library() -> list[Path]:
    files = [*(ROOT / "nas").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")]
    return sorted(f for f in files if f.relative_to(ROOT).as_posix() not in HOME)


def test_no_option_default_is_restated_outside_the_options() -> None:
    found = [
        f"{f.relative_to(ROOT)}:{line}: {text}"
        for f in _library()
        for line, text in _restated(ast.parse(f.read_text()))
    ]
    assert not found, "defaults restated (read the study's plan instead):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        'cfg = o.get("calib_batches", 4)',
        "epochs = opts.supernet_epochs or 20",
        'n = int(o.get("supernet_epochs") or 20)',
        'target = str(out.get("target", "onnxruntime"))',
        'seed = getattr(opts, "supernet_seed", 0)',
        'target = opts["target"] or "onnxruntime"',
        "class Copy:\n    data: str | None = None\n    batch_size: int = 128\n    seed: int\n"
        "    space: str\n    target: str\n    latency: str",
        "class Copy:\n    latency_weight: float = -0.07\n    seed: int\n    target: str\n"
        "    space: str\n    data: str\n    evaluator: str",
    ],
)
def test_each_kind_of_restated_default_is_caught(code: str) -> None:
    assert list(_restated(ast.parse(code))), code


@pytest.mark.parametrize(
    "code",
    [
        'x = o["calib_batches"]',
        'data = o.get("data")',  # None: "not given", not a default
        "label = summary.budget or '?'",  # a placeholder shown for a missing value
        "class Recipe:\n    epochs: int = 20\n    batch_size: int = 128",  # its own options
        "class Copy:\n    data: str | None = None\n    batch_size: int\n    seed: int\n"
        "    space: str\n    target: str\n    latency_input: str = ''",
    ],
)
def test_what_is_not_a_restated_default_passes(code: str) -> None:
    assert not list(_restated(ast.parse(code))), code
