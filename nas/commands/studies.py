"""``nas studies``: list the studies in a storage."""

from __future__ import annotations

import argparse

from rich.table import Table

from nas.commands.common import add_storage, console, shown


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studies",
        help="list the studies in a storage",
        description="List every study in the storage with its progress.",
    )
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.storage import Store
    from nas.storage.summaries import summarize_all

    store = Store(args.storage, read_only=True)
    rows = summarize_all(store)
    if not rows:
        console.print(f"no studies in {args.storage}; start one with: nas search --space mobile")
        return 0
    table = Table(title=f"studies in {args.storage}", title_justify="left")
    for col in (
        "study",
        "space",
        "strategy",
        "target",
        "trials",
        "best acc %",
        "front",
        "created",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            shown(r.name),
            shown(r.space),
            shown(r.strategy),
            shown(r.target),
            f"{r.complete}/{r.budget or '?'}",
            "-" if r.best_accuracy is None else f"{100 * r.best_accuracy:.2f}",
            str(r.front_size),
            r.created,
        )
    console.print(table)
    return 0
