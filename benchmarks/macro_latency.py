"""Measure the CPU latency of every NAS-Bench-Macro network once, and cache it (issue 21 item 4).

Each of the 6,561 architectures of the ``macro`` space is built (``create_subnet``) and timed at
the space's latency input (1x3x32x32) through the project's own ``cpu`` target and timing
protocol (:mod:`nas.hardware.timing`), with one thread and the thread CPU clock (``--clock
cpu``: the measurement for a machine shared with other jobs), and a shortened protocol (2
warm-up runs, 5 to 10 timed runs, at most 0.3 s of timing per network) so that the whole table
takes minutes, not hours. The same pass records the ``params`` and ``flops`` proxies of
:mod:`nas.supernet.proxies`. Rows are appended to ``--out`` every 100 networks, so a stopped run
resumes; ``benchmarks/bench_warm_start.py`` reads the file.

    PYTHONPATH=. nice -n 5 .venv/bin/python benchmarks/macro_latency.py \
        [--out benchmarks/results/macro_latency.csv]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
import torch

from nas.hardware import TimingConfig, create_target
from nas.spaces import load_space
from nas.supernet import create_subnet
from nas.supernet.proxies import compute_proxy

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "bench" / "nas_bench_macro_cifar10.csv"
OUT = ROOT / "benchmarks" / "results" / "macro_latency.csv"
TIMING = TimingConfig(
    warmup=2, min_runs=5, max_runs=10, max_seconds=0.3, rel_tol=0.02, clock="cpu"
)


def measure(table: Path, out: Path, log_every: int = 100) -> pd.DataFrame:
    """The latency table (measuring what ``out`` does not hold yet); see the module docstring."""
    space = load_space("macro")
    shape = space.latency_input.shape
    codes = list(pd.read_csv(table, dtype={"arch": str})["arch"])
    rows = pd.read_csv(out, dtype={"arch": str}).to_dict("records") if out.exists() else []
    seen = {r["arch"] for r in rows}
    target = create_target("cpu", threads=1, timing=TIMING)
    torch.set_num_threads(1)
    t0, new = time.perf_counter(), 0
    for code in codes:
        if code in seen:
            continue
        net = create_subnet(space, space.from_code(code), 10)
        stats = target.measure(net, shape)
        rows.append(
            {
                "arch": code,
                "cpu_latency_ms": stats.median_ms,
                "latency_p10_ms": stats.p10_ms,
                "latency_p90_ms": stats.p90_ms,
                "noisy": stats.noisy,
                "params": compute_proxy("params", net, None, None, input_shape=shape),
                "flops": compute_proxy("flops", net, None, None, input_shape=shape),
                "load1": os.getloadavg()[0],
            }
        )
        new += 1
        if new % log_every == 0:
            pd.DataFrame(rows).to_csv(out, index=False)
            per = (time.perf_counter() - t0) / new
            print(
                f"[{time.strftime('%H:%M:%S')}] {len(rows)} measured, {per:.3f} s each, "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    pd.DataFrame(rows).to_csv(out, index=False)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, default=TABLE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.perf_counter()
    frame = measure(args.table, args.out)
    print(
        f"{len(frame)} networks in {args.out}; this run {time.perf_counter() - t0:.0f} s; "
        f"load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
