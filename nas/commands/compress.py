"""``nas compress DIR --out DIR2``: prune, fine-tune, int8-quantise an export; before/after."""

from __future__ import annotations

import argparse

from nas.commands.common import console, whole_number


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


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

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
    shape = "x".join(str(d) for d in r.report["latency_input"])
    table = Table(
        title=f"nas compress: prune {opts.prune}, {opts.quantize}; latency at {shape}, "
        f"{r.report['threads']} thread(s)",
        title_justify="left",
    )
    for col in (
        "model",
        "runtime",
        "params",
        "MFLOPs",
        "size KiB",
        "test acc %",
        "latency ms",
        "p10-p90 ms",
    ):
        just = "left" if col in ("model", "runtime") else "right"
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for row in r.rows:
        lat = row.latency
        table.add_row(
            row.model,
            row.runtime.split()[0],  # versions are in compression_report.json
            f"{row.params:,}",
            f"{row.flops_m:.1f}",
            f"{row.size_bytes / 1024:.1f}",
            f"{100 * row.test_accuracy:.2f}",
            f"{lat['median_ms']:.2f}",
            f"{lat['p10_ms']:.2f}-{lat['p90_ms']:.2f}",
        )
    console.print(table)
    for note in r.notes:
        console.print(f"note: {note}")
    console.print(f"written to {r.out}")
    return 0
