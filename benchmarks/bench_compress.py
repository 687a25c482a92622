"""Before/after table of ``nas compress`` for the knee architecture of a ``mobile`` study.

Runs a small default ``mobile`` search (default supernet schedule, ``--budget 20``) in a
temporary folder, or uses ``--storage URL --study NAME`` of an existing one; exports the knee
of its Pareto front; compresses it (``--prune 0.5 --quantize int8``, 6 fine-tune epochs);
writes the machine, the timings and the table to ``benchmarks/results/compress.md``.

    .venv/bin/python benchmarks/bench_compress.py [--budget 20] [--storage URL --study NAME]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from nas.export.compress import CompressOptions, compress, markdown
from nas.export.study_export import ExportOptions, export_study
from nas.hardware.fingerprint import cpu_model
from nas.search.driver import run_search
from nas.search.options import SearchOptions

OUT = Path(__file__).resolve().parent / "results" / "compress.md"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--storage", default=None)
    ap.add_argument("--study", default=None)
    ap.add_argument("--prune", type=float, default=0.5)
    ap.add_argument("--finetune-epochs", type=int, default=6)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nas-bench-compress-"))
    seconds: dict[str, float] = {}
    if args.storage and args.study:
        storage, study = args.storage, args.study
        how = f"existing study {study}"
    else:
        storage, study = f"sqlite:///{folder / 'studies.db'}", "bench-mobile"
        t0 = time.perf_counter()
        run_search(SearchOptions(space="mobile", budget=args.budget, storage=storage, study=study))
        seconds["search"] = time.perf_counter() - t0
        how = f"nas search --space mobile --budget {args.budget} (defaults otherwise)"
    t0 = time.perf_counter()
    exp = export_study(ExportOptions(study=study, out=str(folder / "export"), storage=storage))
    seconds["export"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = compress(
        CompressOptions(
            source=str(folder / "export"),
            out=str(folder / "compressed"),
            prune=args.prune,
            finetune_epochs=args.finetune_epochs,
        )
    )
    seconds["compress"] = time.perf_counter() - t0
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    text = (
        "# nas compress: before/after (issue 7)\n\n"
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}; shared with other jobs while it ran, so latencies are "
        "noisy (p10-p90 shown).\n\n"
        f"study: {how}; exported {exp.reason}\n\n"
        f"architecture: `{exp.arch_str}`\n\n"
        f"wall time: {timings}\n\n"
        f"command: nas compress EXPORT --prune {args.prune} --quantize int8 "
        f"--finetune-epochs {args.finetune_epochs} --out DIR2\n\n" + markdown(res.rows, res.report)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
