"""``nas export STUDY --out DIR``: write a chosen architecture's artifacts (see docs/export.md)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import RenderableType

from nas.commands.common import NOISY_NOTE, add_storage, console, fmt_latency
from nas.search.options import whole_number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a study's architecture (weights, ONNX, TorchScript, NNI config)",
        description=(
            "Re-extract one architecture of a study from its supernet checkpoint and write "
            "architecture.json, weights.safetensors, model.onnx, model.ts, metrics.json and, "
            "where the network has prunable channels, compression.json into DIR. Default: the "
            "knee of the Pareto front."
        ),
    )
    p.add_argument("study", help="study name (see 'nas studies')")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (new, empty or an earlier export, whose nas files are replaced)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--trial", type=whole_number, metavar="N", help="export trial number N")
    which.add_argument(
        "--pick",
        choices=("accuracy", "latency", "knee"),
        help="pick from the Pareto front: most accurate, fastest or the knee (default: knee)",
    )
    p.add_argument(
        "--max-latency-ms",
        type=float,
        metavar="X",
        help="pick only among trials with median latency <= X ms",
    )
    p.add_argument(
        "--finetune-epochs",
        type=whole_number,
        default=0,
        metavar="E",
        help="train the extracted network on its own for E epochs first (default 0)",
    )
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.export.study_export import ExportOptions, export_study

    opts = ExportOptions(
        study=args.study,
        out=args.out,
        storage=args.storage,
        trial=args.trial,
        pick=args.pick,
        max_latency_ms=args.max_latency_ms,
        finetune_epochs=args.finetune_epochs,
    )
    r = export_study(opts)
    console.print(export_summary(r))
    return 0


def export_summary(r: Any) -> RenderableType:
    """What ``nas export`` prints: one labelled line per item; a long one wraps under its
    label (never cut), and a noisy latency carries :data:`NOISY` and the note."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    acc, lat = r.metrics["accuracy"], r.metrics.get("latency")
    latency = fmt_latency(r.metrics["latency_ms"], lat)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("  architecture:", r.arch_str)
    grid.add_row(
        "  accuracy:",
        f"val {100 * acc['val']:.2f} %, test {100 * acc['test']:.2f} %; latency {latency} "
        f"ms; params {r.metrics['params_m']:.3f} M; {r.metrics['flops_m']:.1f} MFLOPs",
    )
    if isinstance(lat, dict) and lat.get("noisy"):
        grid.add_row("", NOISY_NOTE)
    for note in r.notes:
        grid.add_row("  note:", note)
    grid.add_row("  written to", str(r.out))
    return Group(Text(f"exported {r.reason}"), grid)
