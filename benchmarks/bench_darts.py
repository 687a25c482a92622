"""Wall time and derived architectures of DARTS on the two cell spaces, default data.

Runs ``nas search --space S --strategy darts --budget E`` for S in (nb201, darts), for each
``--darts-latency-weight L`` given (default: plain, L = 0, and hardware-aware, L = 0.1), in a
fresh folder, and writes a Markdown report (machine, per-run wall time split into search,
evaluation and latency, and per epoch the derived cell, its accuracy with inherited weights,
its measured latency and the expected latency of the relaxation).

    .venv/bin/python benchmarks/bench_darts.py [--epochs 5] [--latency-weights 0,0.1] \
        [--out benchmarks/results/darts.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from nas.hardware.fingerprint import cpu_model
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import keys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument(
        "--latency-weights",
        default="0,0.1",
        help="comma-separated --darts-latency-weight values, one run per space each",
    )
    ap.add_argument("--spaces", default="nb201,darts")
    ap.add_argument("--out", default="benchmarks/results/darts.md")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for search and latency (default 1: on a shared machine a second "
        "thread waits for a free core at every operation and inflates timings many-fold)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="nas-bench-darts-"))
    url = f"sqlite:///{folder / 'studies.db'}"
    lines = [
        "# DARTS on the cell spaces (default data: digits)",
        "",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores (shared with other jobs), "
        f"{platform.system()}, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "",
        f"command: `nas search --space S --strategy darts --budget {args.epochs} "
        "--darts-latency-weight L` (defaults otherwise: first order, arch lr 3e-3, batch 64, "
        f"latency on the cpu target with {args.threads} thread(s) at the space's latency "
        "input 1x3x32x32)",
        "",
        "| space | L | wall s | search s | evaluation s | latency s | last-epoch accuracy "
        "| last-epoch latency ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    for space in args.spaces.split(","):
        for weight in (float(w) for w in args.latency_weights.split(",")):
            study = f"{space}-L{weight}"
            t0 = time.perf_counter()
            r = run_search(
                SearchOptions(
                    space=space,
                    strategy="darts",
                    budget=args.epochs,
                    storage=url,
                    study=study,
                    darts_latency_weight=weight,
                    threads=args.threads,
                )
            )
            wall = time.perf_counter() - t0
            s = r.seconds
            trials = optuna.load_study(study_name=study, storage=url).get_trials(
                states=(TrialState.COMPLETE,)
            )
            last = trials[-1].user_attrs
            lines.append(
                f"| {space} | {weight} | {wall:.0f} | {s['supernet']:.0f} | "
                f"{s['evaluation']:.0f} | {s['latency']:.0f} | {last[keys.ACCURACY]:.3f} | "
                f"{last[keys.LATENCY_MS]:.2f} |"
            )
            details += [
                "",
                f"## {space}, L = {weight}",
                "",
                "| epoch | accuracy | latency ms | expected latency ms | derived architecture |",
                "|---|---|---|---|---|",
            ]
            for t in trials:
                ua = t.user_attrs
                expected = ua.get(keys.EXPECTED_LATENCY_MS)
                exp_s = "-" if expected is None else f"{expected:.2f}"
                details.append(
                    f"| {ua[keys.DARTS_EPOCH]} | {ua[keys.ACCURACY]:.3f} | "
                    f"{ua[keys.LATENCY_MS]:.2f} | {exp_s} | `{ua[keys.ARCH_STR]}` |"
                )
    text = "\n".join(lines + details) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
