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
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpaceError(f"{path}:{where} is not valid YAML") from None
    return space_from_dict(raw, source=str(path))


def space_from_dict(raw: object, *, source: str = "<dict>") -> Space:
    """Validate an already-parsed space description (the contents of a space file)."""
    if not isinstance(raw, dict):
        raise SpaceError(f"{source}: expected a mapping of fields at the top level")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise SpaceError(f"{source}: field 'kind': expected one of {sorted(_KINDS)}, got {kind!r}")
    model_cls, build = _KINDS[kind]
    try:
        model = model_cls.model_validate(raw)
    except ValidationError as exc:
        raise SpaceError(f"{source}: {_first_error(exc)}") from None
    return build(model)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    err = errors[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    quiet = err["type"] in ("missing", "extra_forbidden") or not err["loc"]
    got = "" if quiet else f", got {err.get('input')!r}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"field '{field}': {msg}{got}{more}"
