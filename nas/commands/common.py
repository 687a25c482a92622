"""Options and printing shared by several sub-commands."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from nas.options import whole_number  # noqa: F401 (re-exported for the other commands)
from nas.storage import keys
from nas.storage.db import DEFAULT_URL

console = Console()
err_console = Console(stderr=True)


def add_storage(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        default=DEFAULT_URL,
        metavar="URL",
        help=f"SQLAlchemy URL of the study database (default: {DEFAULT_URL}); "
        "postgresql://user:pass@host/db to share one study between machines",
    )


def fmt_ms(v: Any) -> str:
    return "-" if v is None else f"{float(v):.2f}"


def front_table(trials: list, title: str) -> Table:
    """The Pareto front as a table: one row a trial, fastest first."""
    table = Table(title=title, title_justify="left")
    for col, just in [
        ("trial", "right"),
        ("accuracy %", "right"),
        ("latency ms", "right"),
        ("p90 ms", "right"),
        ("params M", "right"),
        ("MFLOPs", "right"),
        ("architecture", "left"),
    ]:
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for t in trials:
        ua = t.user_attrs
        lat = ua.get(keys.LATENCY) or {}
        table.add_row(
            str(t.number),
            f"{100 * float(ua.get(keys.ACCURACY, 0)):.2f}",
            fmt_ms(ua.get(keys.LATENCY_MS)),
            fmt_ms(lat.get("p90_ms")),
            f"{float(ua.get(keys.PARAMS_M, 0)):.2f}" if keys.PARAMS_M in ua else "-",
            f"{float(ua.get(keys.FLOPS_M, 0)):.0f}" if keys.FLOPS_M in ua else "-",
            str(ua.get(keys.ARCH_STR, "")),
        )
    return table
