"""``nas studies``: list the studies in a storage."""

from __future__ import annotations

import argparse

from rich.table import Table

from nas.commands.common import add_storage, console, numeric_column, shown


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studies",
        help="list the studies in a storage",
        description="List every study in the storage with its progress.",
    )
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.analysis.summaries import summarize_all
    from nas.storage import Store

    store = Store(args.storage, read_only=True)
    rows = summarize_all(store)
    if not rows:
        console.print(f"no studies in {args.storage}; start one with: nas search --space mobile")
        return 0
    table = Table(title=f"studies in {args.storage}", title_justify="left")
    cells = {
        "trials": [f"{r.complete}/{r.budget or '?'}" for r in rows],
        # a zero-cost study's best is a proxy score, written as one (nas.analysis.axis)
        "best\nacc %": [_best(r.best_accuracy, r.evaluator) for r in rows],
        "front": [str(r.front_size) for r in rows],
    }
    # the numbers never shrink or get cut at 80 columns; names and paths fold instead
    table.add_column("study", overflow="fold")
    for col in ("space", "strategy", "target"):
        table.add_column(col, overflow="fold")
    for col, values in cells.items():
        numeric_column(table, col, values)
    table.add_column("created", overflow="fold")
    for i, r in enumerate(rows):
        table.add_row(
            shown(r.name),
            shown(r.space),
            shown(r.strategy),
            shown(r.target),
            *(v[i] for v in cells.values()),
            str(r.created)[:16],  # to the minute
        )
    console.print(table)
    return 0


def _best(value: float | None, evaluator: str) -> str:
    """A study's best in percent, or ``0.7316 (vote score)`` for a zero-cost study."""
    from nas.analysis.axis import axis_of_evaluator

    axis = axis_of_evaluator(evaluator)
    if value is None or axis.percent:
        return axis.fmt(value, None)
    return f"{axis.fmt(value)} ({axis.name})"
