"""Architecture views as data: read the structure of a network from its flat arch dict.

An architecture is a flat dict of choice label to value (docs/CONTRIBUTING.md, "one
currency"), and the labels say where each choice sits, so the picture needs no torch and no
space file:

* chain spaces (``stage{i}.depth``, ``stage{i}.width`` where the width is a choice,
  ``stage{i}.layer{j}.{key}``): per stage the active layers and their per-layer choices
  (kernel, expansion, ...);
* cell spaces (``edge{i}{j}``, NAS-Bench-201 style): a DAG whose edge ``j -> i`` carries an
  operation.

Anything else is shown as its label/value list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.storage.studies import StudySettings

_STAGE_DEPTH = re.compile(r"^stage(\d+)\.depth$")
_STAGE_WIDTH = re.compile(r"^stage(\d+)\.width$")
_LAYER = re.compile(r"^stage(\d+)\.layer(\d+)\.(\w+)$")
_EDGE = re.compile(r"^edge(\d)(\d)$")


@dataclass(frozen=True)
class ChainArch:
    """Per stage, the active layers' choices: ``stages[i][j] == {"kernel": 3, "expand": 6}``."""

    stages: tuple[tuple[dict[str, int | str], ...], ...]
    layer_keys: tuple[str, ...]
    widths: tuple[int | None, ...] = ()  # per stage, where the width is a choice

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.stages)


@dataclass(frozen=True)
class CellArch:
    """A cell DAG: ``edges[(i, j)]`` is the operation on the edge from node j to node i."""

    nodes: int
    edges: dict[tuple[int, int], str]


@dataclass(frozen=True)
class PlainArch:
    """Fallback: the choices as an ordered list of (label, value)."""

    items: tuple[tuple[str, str], ...]


ArchInfo = ChainArch | CellArch | PlainArch


def arch_info(arch: Mapping[str, object]) -> ArchInfo:
    """The structure behind ``arch`` (chain, cell, or plain when the labels are unfamiliar)."""
    if not arch:
        return PlainArch(())
    if all(_STAGE_DEPTH.match(k) or _STAGE_WIDTH.match(k) or _LAYER.match(k) for k in arch):
        chain = _chain(arch)
        if chain is not None:
            return chain
    if all(_EDGE.match(k) for k in arch):
        edges = {}
        for k, v in arch.items():
            m = _EDGE.match(k)
            assert m is not None
            edges[(int(m.group(1)), int(m.group(2)))] = str(v)
        if all(j < i for i, j in edges):
            return CellArch(nodes=1 + max(i for i, _ in edges), edges=edges)
    return PlainArch(tuple((str(k), str(v)) for k, v in arch.items()))


def _chain(arch: Mapping[str, object]) -> ChainArch | None:
    depths: dict[int, int] = {}
    widths: dict[int, int] = {}
    layers: dict[tuple[int, int], dict[str, int | str]] = {}
    keys: list[str] = []
    for k, v in arch.items():
        if m := _STAGE_DEPTH.match(k):
            if not isinstance(v, int):
                return None
            depths[int(m.group(1))] = v
        elif m := _STAGE_WIDTH.match(k):
            if not isinstance(v, int):
                return None
            widths[int(m.group(1))] = v
        elif m := _LAYER.match(k):
            key = m.group(3)
            if key not in keys:
                keys.append(key)
            layers.setdefault((int(m.group(1)), int(m.group(2))), {})[key] = v  # type: ignore[assignment]
    if not depths or sorted(depths) != list(range(len(depths))):
        return None
    stages = []
    for i in range(len(depths)):
        stage = []
        for j in range(depths[i]):
            if (i, j) not in layers:
                return None  # a canonical arch names every active layer
            stage.append(layers[(i, j)])
        stages.append(tuple(stage))
    per_stage = tuple(widths.get(i) for i in range(len(depths))) if widths else ()
    return ChainArch(tuple(stages), tuple(keys), per_stage)


def study_layer_options(settings: StudySettings | None) -> dict[str, tuple[object, ...]]:
    """:func:`layer_options` of the space a study was searched on (as its search named it)."""
    if settings is None:
        return {}
    return layer_options(str(settings.plan()["space"]))


@cache
def layer_options(space: str) -> dict[str, tuple[object, ...]]:
    """A chain space's options per layer key (``{"kernel": (3, 5, 7), "expand": (1, 3, 6)}``),
    read from the space the study names; empty where it cannot be read (a space file that moved)
    or is not a chain space."""
    from nas.errors import NasInputError
    from nas.spaces.loader import load_space

    try:
        choices = load_space(space).choices
    except (NasInputError, OSError):  # a picture without a fixed scale is better than none
        return {}
    out: dict[str, set[object]] = {}
    for c in choices:
        if m := _LAYER.match(c.label):
            out.setdefault(m.group(3), set()).update(c.options)
    return {k: tuple(sorted(v, key=str)) for k, v in out.items()}


def export_command(study: str, trial: int, storage: str) -> str:
    """The command that exports a trial's network (see ``nas export --help``)."""
    return f"nas export {_quote(study)} --trial {trial} --out export/ --storage {_quote(storage)}"


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
