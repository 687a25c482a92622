"""Load search-space files (YAML) into :class:`~nas.spaces.base.Space` objects.

``--space`` takes a built-in name (a file in ``search_spaces/``) or a path to the user's own
file. A file is validated on load; the error names the file, the field and what was expected.
New space kinds register a (pydantic model, Space class) pair with :func:`register_kind`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nas.errors import SpaceError
from nas.limits import MAX_CHOICES, MAX_SPACE_FILE_BYTES, MAX_YAML_NODES, clip, shorten
from nas.spaces.base import Space
from nas.spaces.chain import ChainSpace, ChainSpaceModel
from nas.spaces.darts import DartsSpace, DartsSpaceModel
from nas.spaces.nb201 import Nb201Space, Nb201SpaceModel
from nas.spaces.resnet import ResnetSpace, ResnetSpaceModel

_KINDS: dict[str, tuple[type[BaseModel], Callable[[Any], Space]]] = {
    "chain": (ChainSpaceModel, ChainSpace),
    "nb201": (Nb201SpaceModel, Nb201Space),
    "darts": (DartsSpaceModel, DartsSpace),
    "resnet": (ResnetSpaceModel, ResnetSpace),
}


def register_kind(kind: str, model: type[BaseModel], build: Callable[[Any], Space]) -> None:
    """Make ``kind: <kind>`` files loadable: ``model`` validates, ``build`` makes the Space."""
    _KINDS[kind] = (model, build)


def builtin_dir() -> Path:
    """Folder of the built-in space files (``$NAS_SPACES_DIR`` overrides it)."""
    env = os.environ.get("NAS_SPACES_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "search_spaces"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def resolve(name_or_path: str) -> Path:
    """The file behind a ``--space`` value: a path when it looks like one, else a built-in name."""
    looks_like_path = os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise SpaceError(f"space file {name_or_path} does not exist")
        return path
    path = builtin_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(builtin_names()) or "(none)"
        raise SpaceError(
            f"unknown space {name_or_path!r}; known spaces: {known} "
            "(or give a path to a .yaml file)"
        )
    return path


def load_space(name_or_path: str) -> Space:
    """Load and validate a space by built-in name or file path.

    Raises:
        SpaceError: unknown name, unreadable file, or a file that fails validation.
    """
    path = resolve(name_or_path)
    try:
        size = path.stat().st_size
        if size > MAX_SPACE_FILE_BYTES:
            raise SpaceError(
                f"{path}: {size:,} bytes is not a space file (the cap is "
                f"{MAX_SPACE_FILE_BYTES:,} bytes, nas.limits.MAX_SPACE_FILE_BYTES)"
            )
        raw = _bounded_yaml(path.read_text(), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpaceError(f"{path}:{where} is not valid YAML") from None
    return space_from_dict(raw, source=str(path))


def _bounded_yaml(text: str, source: str) -> object:
    """``yaml.safe_load(text)``, refusing a document that expands beyond ``MAX_YAML_NODES``.

    YAML aliases share one node, so a few lines can stand for billions of values ("billion
    laughs"); PyYAML builds them as shared objects, and whatever walks the result (pydantic, an
    error message) expands them. The node graph is measured, expansion counted once per shared
    node, before any Python object is built.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise SpaceError(f"{source}: nested too deeply to be a space file") from None
        if node is None:
            return None
        if _expanded_nodes(node, source) > MAX_YAML_NODES:
            raise SpaceError(
                f"{source}: its aliases expand to more than {MAX_YAML_NODES:,} values "
                "(nas.limits.MAX_YAML_NODES); write the values out instead"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_nodes(root: yaml.Node, source: str) -> int:
    """Nodes of ``root`` with every alias expanded, counted without expanding (memoised).

    Raises:
        SpaceError: an alias inside its own anchor (a cycle: infinitely many values).
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: a deep document must not hit the recursion limit
        node, children_done = stack.pop()
        if children_done:
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[id(node)] = min(total, MAX_YAML_NODES + 1)  # no big numbers either
            open_nodes.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise SpaceError(f"{source}: an alias refers to itself; a space file is finite")
        children = _children(node)
        if not children:
            sizes[id(node)] = 1
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def space_from_dict(raw: object, *, source: str = "<dict>") -> Space:
    """Validate an already-parsed space description (the contents of a space file)."""
    if not isinstance(raw, dict):
        raise SpaceError(f"{source}: expected a mapping of fields at the top level")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise SpaceError(
            f"{source}: field 'kind': expected one of {sorted(_KINDS)}, got {shorten(kind)}"
        )
    model_cls, build = _KINDS[kind]
    try:
        model = model_cls.model_validate(raw)
    except ValidationError as exc:
        raise SpaceError(f"{source}: {_first_error(exc)}") from None
    space = build(model)
    if len(space.choices) > MAX_CHOICES:
        raise SpaceError(
            f"{source}: the space has {len(space.choices):,} choices, above the cap of "
            f"{MAX_CHOICES:,} (nas.limits.MAX_CHOICES); use fewer stages or shallower ones"
        )
    return space


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    err = errors[0]
    field = clip(".".join(str(p) for p in err["loc"]), 120) or "(top level)"
    msg = clip(err["msg"], 300)
    ctx = err.get("ctx") or {}
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling)"
    elif err["type"] == "less_than_equal":  # the caps of nas.limits
        msg = f"must be at most {ctx.get('le')} (a cap of nas.limits)"
    elif err["type"] == "too_long":
        msg = (
            f"at most {ctx.get('max_length')} items are allowed (a cap of nas.limits), "
            f"got {ctx.get('actual_length')}"
        )
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    quiet = err["type"] in ("missing", "extra_forbidden", "too_long") or not err["loc"]
    got = "" if quiet else f", got {shorten(err.get('input'))}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"field '{field}': {msg}{got}{more}"
