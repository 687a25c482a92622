"""``nas compress DIR --out DIR2``: prune, fine-tune, int8-quantise an export; before/after."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from nas.commands.common import NOISY, NOISY_NOTE, console, numeric_column
from nas.search.options import whole_number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress",
        help="prune, fine-tune and int8-quantise an export; print the before/after table",
        description=(
            "Remove a share of the free channels of an exported network (MBConv hidden "
            "channels and the head), fine-tune it, write it as a new export with an int8 "
            "ONNX model (ONNX Runtime static quantization), and measure parameters, FLOPs, "
            "size, test accuracy and latency before and after."
        ),
    )
    p.add_argument("export", metavar="DIR", help="folder written by 'nas export'")
    p.add_argument("--out", required=True, metavar="DIR2", help="output folder")
    p.add_argument(
        "--prune",
        type=float,
        default=0.5,
        metavar="R",
        help="share of prunable channels to remove, in [0, 1) (default 0.5)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8", "none"),
        default="int8",
        help="post-training quantization of the ONNX model (default int8)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=whole_number,
        default=6,
        metavar="E",
        help="epochs of fine-tuning after pruning (default 6)",
    )
    p.add_argument(
        "--data", metavar="SPEC", help="data set (default: the one recorded in the export)"
    )
    p.add_argument(
        "--threads",
        type=whole_number,
        metavar="N",
        help="threads for latency (default: those of the export's measurement)",
    )
    p.set_defaults(run=run)


def _recorded_latency(export: str) -> dict | None:
    """The latency ``nas export`` recorded for this network (metrics.json), if any."""
    from nas.export import files

    try:
        metrics = files.read_json(Path(export) / files.METRICS)
    except (OSError, ValueError):  # compress read it already; only the check is lost
        return None
    lat = metrics.get("latency")
    return lat if isinstance(lat, dict) and "median_ms" in lat else None


def run(args: argparse.Namespace) -> int:
    from nas.export.compress import CompressOptions, compress

    opts = CompressOptions(
        source=args.export,
        out=args.out,
        prune=args.prune,
        quantize=args.quantize,
        finetune_epochs=args.finetune_epochs,
        data=args.data,
        threads=args.threads,
    )
    r = compress(opts)
    console.print(compress_table(r.rows, r.report, _recorded_latency(opts.source)))
    for note in r.notes:
        console.print(f"note: {note}")
    console.print(f"written to {r.out}")
    return 0


HEADS = ("params", "MFLOPs", "KiB", "test acc %")


def compress_table(
    rows: list, report: dict, recorded: dict | None, width: int | None = None
) -> Table:
    """The before/after table; every number in full at ``width`` (default: the console's).

    One line a row where it fits; else (80 columns) the runtime goes under the model and the
    p10-p90 spread under the median, so nothing is cut. A noisy latency carries
    :data:`NOISY`; the export's own network measured far from its recorded latency carries
    ``!`` and a note that says by how much.
    """
    width = width or console.width
    cells, notes = _cells(rows, recorded)
    shape = "x".join(str(d) for d in report["latency_input"])
    opts = report["options"]
    table = Table(
        title=f"nas compress: prune {opts['prune']}, fine-tune "
        f"{opts.get('finetune_epochs', '?')} epoch(s), {opts['quantize']}; latency (ms) at "
        f"{shape}, {report['threads']} thread(s)",
        title_justify="left",
        caption="\n".join(notes) or None,
        caption_justify="left",
    )
    one_line = sum(max(len(v) for v in [h, *vs]) + 3 for h, vs in cells.items()) + 1
    if one_line > width:  # two lines a row: runtime under model, spread under median
        cells = _stacked(cells)
    for h, values in cells.items():
        lines = [line for v in [h, *values] for line in v.split("\n")]
        if h in ("model", "runtime", "model\nruntime"):
            table.add_column(h, no_wrap=True, min_width=max(len(v) for v in lines))
        else:
            numeric_column(table, h, [line for v in values for line in v.split("\n")])
    for i in range(len(rows)):
        table.add_row(*(v[i] for v in cells.values()))
    return table


def _cells(rows: list, recorded: dict | None) -> tuple[dict[str, list[str]], list[str]]:
    """The table's cells by column, one line each, and the notes under it."""
    from nas.hardware.timing import implausible

    cells: dict[str, list[str]] = {h: [] for h in ("model", "runtime", *HEADS, "ms", "p10-p90")}
    notes: list[str] = []
    for row in rows:
        lat = row.latency
        mark = NOISY if lat.get("noisy") else ""
        if row.model == "exported" and row.runtime.startswith("torch") and recorded:
            why = implausible(lat, recorded)
            if why:
                mark += "!"
                notes.append(f"! {why}")
        for h, v in zip(
            cells,
            (
                row.model,
                row.runtime.split()[0],  # versions are in compression_report.json
                f"{row.params:,}",
                f"{row.flops_m:.1f}",
                f"{row.size_bytes / 1024:.1f}",
                f"{100 * row.test_accuracy:.2f}",
                f"{lat['median_ms']:.2f}{mark}",
                f"{lat['p10_ms']:.2f}-{lat['p90_ms']:.2f}",
            ),
            strict=True,
        ):
            cells[h].append(v)
    if any(row.latency.get("noisy") for row in rows):
        notes.insert(0, NOISY_NOTE)
    return cells, notes


def _stacked(cells: dict[str, list[str]]) -> dict[str, list[str]]:
    """Two lines a row: the runtime under the model, the spread under the median."""

    def stack(a: str, b: str) -> list[str]:
        return [f"{x}\n{y}" for x, y in zip(cells[a], cells[b], strict=True)]

    return {
        "model\nruntime": stack("model", "runtime"),
        **{h: cells[h] for h in HEADS},
        "ms\np10-p90": stack("ms", "p10-p90"),
    }
