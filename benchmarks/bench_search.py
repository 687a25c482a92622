"""Wall time of the README's main command, split into supernet, evaluation and latency.

Runs ``nas search --space mobile --budget 200`` in a fresh folder (cold: trains the supernet),
then the same search again under a new study name (warm: the supernet checkpoint is reused).
Prints a Markdown block for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_search.py [--budget 200] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from nas.hardware.fingerprint import cpu_model
from nas.search.driver import run_search
from nas.search.options import SearchOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--space", default="mobile")
    ap.add_argument("--out", default=None, help="folder for studies.db (default: a temp dir)")
    args = ap.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="nas-bench-"))
    url = f"sqlite:///{folder / 'studies.db'}"
    rows = []
    for label, study in (
        ("cold (trains supernet)", "bench-cold"),
        ("re-run (reuses checkpoint)", "bench-warm"),
    ):
        t0 = time.perf_counter()
        r = run_search(
            SearchOptions(space=args.space, budget=args.budget, storage=url, study=study)
        )
        wall = time.perf_counter() - t0
        s = r.seconds
        rows.append(
            f"| {label} | {wall:.0f} | {s['supernet']:.0f} | {s['evaluation']:.0f} | "
            f"{s['latency']:.0f} | {wall - s['supernet'] - s['evaluation'] - s['latency']:.0f} | "
            f"{len(r.front)} |"
        )
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"command: nas search --space {args.space} --budget {args.budget} (defaults otherwise)\n"
    )
    print("| run | wall s | supernet s | evaluation s | latency s | other s | front size |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
