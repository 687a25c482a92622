"""The argparse bridge: one ``--flag`` per field of a pydantic options model.

:class:`~nas.search.options.SearchOptions` declares every option of ``nas search`` once (type,
default, check, help, the :class:`~nas.search.options.Cli` metadata); ``nas search`` and
``nas submit`` make their flags from it here, and the service its request schema from the same
model.
"""

from __future__ import annotations

import argparse
from typing import Any, Literal

from pydantic import BaseModel

from nas.search.options import Cli, SearchOptions, flag, whole_number


def _help(info: Any, cli: Cli) -> str:
    text = info.description or ""
    more = cli.more() if cli.more is not None else ""
    if info.default is not None and "(default" not in text + more:
        text += f" (default {info.default})"
    return text + more


def add_arguments(parser: argparse.ArgumentParser, model: type[BaseModel] = SearchOptions) -> None:
    """Add one ``--flag`` per field of ``model`` to ``parser``.

    Values not given stay out of the parsed namespace (``argparse.SUPPRESS``), so
    :func:`from_args` knows which options the user set; the help shows every default.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, info in model.model_fields.items():
        cli = next((m for m in info.metadata if isinstance(m, Cli)), Cli())
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "help": _help(info, cli)}
        if cli.metavar or cli.parse is whole_number:
            kw["metavar"] = cli.metavar or "N"
        literal = _literal_values(info.annotation)
        if cli.choices is not None:
            kw["choices"] = list(cli.choices())
        elif literal:
            kw["choices"] = literal
            kw["type"] = type(literal[0])
        if cli.parse is not None:
            kw["type"] = cli.parse
        elif "type" not in kw and _is_float(info.annotation):
            kw["type"] = float
        target: Any = parser
        if cli.group:
            title, _, description = cli.group.partition(": ")
            if cli.group not in groups:
                groups[cli.group] = parser.add_argument_group(title, description or None)
            target = groups[cli.group]
        target.add_argument(flag(name), dest=name, **kw)


def from_args(args: argparse.Namespace, model: type[BaseModel] = SearchOptions) -> Any:
    """The model from the options given on the command line (others keep their defaults)."""
    given = {k: v for k, v in vars(args).items() if k in model.model_fields}
    return model(**given)


def _literal_values(annotation: Any) -> list[Any]:
    from typing import get_args, get_origin

    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return []


def _is_float(annotation: Any) -> bool:
    from typing import get_args

    return annotation is float or float in get_args(annotation)
