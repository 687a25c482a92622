"""Options and printing shared by several sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nas.limits import printable
from nas.storage import keys
from nas.storage.db import DEFAULT_URL


def _width() -> int | None:
    """The terminal's width; 120 columns when printing to a file or a pipe (rich would lay a
    log file out at 80 and cut the tables), unless COLUMNS says otherwise."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 120


# Off a terminal, plain lines are not wrapped either: a command in a log file stays one line.
console = Console(width=_width(), soft_wrap=_width() is not None)
err_console = Console(stderr=True)

# Marks put next to a latency wherever people read one (tables, the dashboard, the report).
NOISY = "~"
NOISY_NOTE = (
    f"{NOISY} noisy: p10-p90 spread over 25 % of the median or the timer never settled; "
    "re-measure on a quiet machine"
)


def shown(text: object) -> str:
    """A value from outside (a study name, a stored setting) made safe to print with rich:
    control characters written as escapes, rich markup ``[...]`` taken literally."""
    return escape(printable(str(text)))


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


def fmt_accuracy(p: Any, se: Any) -> str:
    """An accuracy in percent with its standard error where the trial recorded one."""
    text = f"{100 * float(p):.2f}"
    return text if se is None else f"{text} ± {100 * float(se):.2f}"


def fmt_latency(ms: Any, stats: Any) -> str:
    """A latency in ms, marked :data:`NOISY` when its measurement says so."""
    noisy = isinstance(stats, dict) and bool(stats.get("noisy"))
    return fmt_ms(ms) + (NOISY if noisy and ms is not None else "")


def numeric_column(table: Table, header: str, cells: list[str]) -> None:
    """A column that rich may never shrink or cut: it is as wide as its widest cell."""
    width = max([len(c) for c in cells] + [max(len(h) for h in header.split("\n"))])
    table.add_column(header, justify="right", no_wrap=True, min_width=width)


OPTIONAL_COLUMNS = ("p90 ms", "params M", "MFLOPs")


def _front_columns(
    trials: list, axis: Any, acc_head: str, marks: dict[int, str], test: dict[int, float] | None
) -> tuple[dict[str, list[str]], list[str], bool]:
    """``(column head -> cells, architecture strings, any latency noisy)`` of the front."""
    test_head = ["test %"] if test else []
    cols: dict[str, list[str]] = {
        h: []
        for h in ("trial", acc_head, *test_head, "latency ms", "p90 ms", "params M", "MFLOPs")
    }
    archs: list[str] = []
    noisy = False
    for t in trials:
        ua = t.user_attrs
        lat = ua.get(keys.LATENCY) or {}
        noisy |= bool(lat.get("noisy"))
        for h, v in zip(
            cols,
            (
                f"{t.number} ({marks[t.number]})" if t.number in marks else str(t.number),
                axis.fmt(ua.get(keys.ACCURACY, 0), ua.get(keys.ACCURACY_SE)),
                *([f"{100 * test[t.number]:.2f}" if t.number in test else "-"] if test else []),
                fmt_latency(ua.get(keys.LATENCY_MS), lat),
                fmt_ms(lat.get("p90_ms")),
                f"{float(ua.get(keys.PARAMS_M, 0)):.2f}" if keys.PARAMS_M in ua else "-",
                f"{float(ua.get(keys.FLOPS_M, 0)):.0f}" if keys.FLOPS_M in ua else "-",
            ),
            strict=True,
        ):
            cols[h].append(v)
        archs.append(str(ua.get(keys.ARCH_STR, "")))
    return cols, archs, noisy


def front_table(
    trials: list,
    title: str,
    width: int | None = None,
    *,
    accuracy: str = "accuracy",
    marks: dict[int, str] | None = None,
    note: str = "",
    test: dict[int, float] | None = None,
    archs_of: set[int] | None = None,
) -> RenderableType:
    """The Pareto front as a table: one row a trial, fastest first.

    Trial, accuracy and latency always show in full. The architecture is a column when it
    fits in ``width`` (default: the console's), else a numbered line of its own under the
    table, folded at the edge. A noisy latency carries :data:`NOISY` and a note under the
    table.

    ``accuracy`` names the accuracy (``inherited acc`` heads the column on two lines);
    ``marks`` puts a word next to some trial numbers (``0 (largest)``), which ``note``
    explains under the table. ``test`` (trial number -> fraction) adds a ``test %`` column
    where the study holds a held-out accuracy (a table study's test column). ``archs_of``
    (trial numbers) limits the architecture lines under the table to those trials. A column
    that no trial fills (a table study's p90, params, MFLOPs) is left out.
    """
    from nas.analysis.axis import axis_of_trial

    width = width or console.width
    axis = axis_of_trial(trials[0].user_attrs if trials else {})
    marks = marks or {}
    cols, archs, noisy = _front_columns(trials, axis, _accuracy_head(axis, accuracy), marks, test)
    for h in OPTIONAL_COLUMNS:
        if trials and all(c == "-" for c in cols[h]):
            del cols[h]
    # the notes under the table, folded at the terminal's edge (a caption would fold them at
    # the table's, a line or two more)
    notes = [Text(n) for n in (NOISY_NOTE if noisy else "", note) if n]
    table = Table(title=title or None, title_justify="left")
    for h, cells in cols.items():
        numeric_column(table, h, cells)
    widest = {h: max(len(line) for line in h.split("\n")) for h in cols}
    used = sum(max([len(c) for c in v] + [widest[h]]) + 3 for h, v in cols.items()) + 1
    longest = max((len(a) for a in archs), default=0)
    inline = used + longest + 3 <= width
    if inline:
        table.add_column("architecture", no_wrap=True)
    for i in range(len(trials)):
        row = [v[i] for v in cols.values()]
        table.add_row(*row, *([archs[i]] if inline else []))
    if inline or not trials:
        return Group(table, *notes) if notes else table
    return Group(table, _architecture_lines(trials, archs, archs_of), *notes)


def _accuracy_head(axis: Any, accuracy: str) -> str:
    """The accuracy column's heading: a zero-cost score by its proxy's name, else the axis with
    ``± se`` (``inherited acc`` puts the kind of accuracy on a line of its own)."""
    if not axis.percent:
        return str(axis.short)
    if accuracy == "accuracy":
        return f"{axis.short} ± se"
    return f"{accuracy.removesuffix(' acc')}\n{axis.short} ± se"


def _architecture_lines(trials: list, archs: list[str], archs_of: set[int] | None) -> Table:
    """The architectures under the table, one numbered line each (only ``archs_of``'s trials
    where given): a grid, so a folded architecture keeps its hanging indent."""
    below = Table.grid(padding=(0, 1))
    below.add_column(justify="right", no_wrap=True)
    below.add_column(overflow="fold")
    for t, a in zip(trials, archs, strict=True):
        if archs_of is None or t.number in archs_of:
            below.add_row(f"  trial {t.number}:", a)
    return below


def shell_lines(cmd: str, width: int, indent: str = "  ") -> list[str]:
    """``cmd`` folded to ``width`` columns so that it still runs when pasted into a shell:
    breaks between words end in `` \\``; a word too long for a line is cut with a backslash
    and goes on at the start of the next line (the shell joins ``\\``-newline inside a word
    too, outside quotes). A trailing ``# comment`` goes on a line of its own, first."""
    import shlex

    command, sep, comment = cmd.partition("  # ")
    lines = [f"{indent}# {comment}"] if sep else []
    line = indent
    for word in map(shlex.quote, shlex.split(command)):  # a quoted word stays one word
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent + "  "
        line += (" " if line.strip() else "") + word
        while len(line) > width and "'" not in word:  # cut inside an unquoted word
            lines.append(line[: width - 1] + "\\")
            line = line[width - 1 :]
    return [*lines, line]
