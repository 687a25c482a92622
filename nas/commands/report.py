"""``nas report STUDY -o report.html``: one self-contained HTML file with the study's charts."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas.commands.common import add_storage, console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a study's charts to one self-contained HTML file",
        description=(
            "Write one HTML file with the dashboard's charts of a study (Pareto front, "
            "progress, latency, the knee network, parameter importance). Plotly is inlined: "
            "the file opens offline, without a server."
        ),
    )
    p.add_argument("study", help="study name (see 'nas studies')")
    p.add_argument("-o", "--out", default="report.html", help="output file (default report.html)")
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.errors import OptionError

    out = Path(args.out)
    if not out.parent.exists():
        raise OptionError(f"folder {out.parent} does not exist; create it or give another --out")
    if out.is_dir():
        raise OptionError(f"{out} is a folder; give a file name such as {out / 'report.html'}")
    from dashboard.report import write_report

    size = write_report(args.storage, args.study, out)
    console.print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0
