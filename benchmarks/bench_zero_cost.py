"""Reproduce the published zero-cost correlations on NAS-Bench-201 (issue 21, item 3).

Builds the project's own ``nb201`` networks as the benchmark's (C = 16, N = 5 cells per stage,
3x32x32 input), freshly initialised from a seed (:func:`nas.supernet.proxies.default_init`,
PyTorch's default initialisation), computes the data-free proxies (params, flops, synflow,
zen) of a stratified sample of cells, and prints Spearman's rho between each proxy and the
real accuracies of ``../shared/bench/nb201_hw.csv`` (CIFAR-10, CIFAR-100, ImageNet16-120;
both the ``*_valid`` and the ``*_test`` columns).

With ``--mobile N`` it first times every proxy (all eight, data-dependent ones on a batch of
64 random 3x28x28 images) on ``N`` ``mobile`` networks, the default space at its scoring
shape: median and max seconds per candidate per proxy.

Published values to match (Abdelfattah et al., ICLR 2021, Table 2, all 15,625 cells):
synflow 0.74 / 0.76 / 0.75; parameter count about 0.75 on CIFAR-10.

The sample is stratified by CIFAR-10 validation accuracy: the cells are sorted by it and cut
into ``--strata`` equal bins, and the same number of cells is drawn from each with a seeded
generator, then shuffled with it, so that every prefix of the run is itself a random sample.
``--scores FILE`` keeps every scored cell (a CSV, written every 10 cells): a re-run with the
same file goes on where the last one stopped, and the table is computed over the cells in the
file that belong to the sample. Every cell's classifier has 10 outputs (a per-data-set
classifier changes params and flops by the same amount for every cell, so their ranks do not
move).

    .venv/bin/python benchmarks/bench_zero_cost.py [--cells 3000] [--seed 0] [--mobile 20]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from nas.hardware.fingerprint import cpu_model
from nas.spaces import load_space
from nas.spaces.loader import space_from_dict
from nas.supernet import create_subnet
from nas.supernet.proxies import PROXIES, compute_proxy, default_init

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "bench" / "nb201_hw.csv"
PROXY_NAMES = ("params", "flops", "synflow", "zen")
DATASETS = (("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"), ("ImageNet16-120", "imagenet16"))
PUBLISHED = {"synflow": (0.737, 0.763, 0.751), "params": (0.75, None, None)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def benchmark_space():
    """``nb201`` as NAS-Bench-201 built it: N = 5 cells per stage, 32x32 input."""
    raw = load_space("nb201").model.model_dump()
    raw.update(cells_per_stage=5, train_resolution=32, name="nb201-bench")
    return space_from_dict(raw, source="nb201 (N=5, 32x32)")


def stratified(frame: pd.DataFrame, n: int, strata: int, seed: int) -> pd.DataFrame:
    if n >= len(frame):
        return frame
    order = frame.sort_values("cifar10_valid", kind="stable").reset_index(drop=True)
    bins = np.array_split(np.arange(len(order)), strata)
    rng = random.Random(seed)
    take: list[int] = []
    for k, b in enumerate(bins):
        share = n // strata + (1 if k < n % strata else 0)
        take += rng.sample(list(b), min(share, len(b)))
    rng.shuffle(take)  # any prefix is a random sample (the run may be stopped and resumed)
    return order.iloc[take].reset_index(drop=True)


def time_mobile(n: int, seed: int) -> list[str]:
    """Seconds per candidate of every proxy on ``n`` random ``mobile`` networks."""
    space = load_space("mobile")
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    r = space.train_resolution
    x, y = torch.randn(64, 3, r, r, generator=g), torch.randint(0, 10, (64,), generator=g)
    times: dict[str, list[float]] = {name: [] for name in PROXIES}
    for _ in range(n):
        net = default_init(create_subnet(space, space.sample(rng), 10), seed)
        for name in PROXIES:
            t0 = time.perf_counter()
            compute_proxy(name, net, x, y, seed=seed)
            times[name].append(time.perf_counter() - t0)
    lines = [
        f"`mobile`, {n} random architectures, batch 64 x 3x{r}x{r} (data-free proxies: "
        "the shape only; flops and synflow: one image), torch threads "
        f"{torch.get_num_threads()}",
        "",
        "| proxy | median s/candidate | max s/candidate |",
        "|---|---|---|",
    ]
    for name, ts in times.items():
        lines.append(f"| {name} | {np.median(ts):.3f} | {max(ts):.3f} |")
    lines.append(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=3000)
    p.add_argument("--strata", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="sample, initialisation and proxy seed")
    p.add_argument("--zen-batch", type=int, default=16, help="Gaussian images per zen pass")
    p.add_argument("--table", type=Path, default=TABLE)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mobile", type=int, default=0, help="time every proxy on N mobile nets")
    p.add_argument("--scores", type=Path, default=None, help="CSV of scored cells (resumable)")
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop scoring after this long; the table "
        "is then over the cells scored so far (a random prefix of the sample)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    head: list[str] = []
    if args.mobile:
        head = time_mobile(args.mobile, args.seed) + [""]
        print("\n".join(head), flush=True)

    space = benchmark_space()
    frame = stratified(pd.read_csv(args.table), args.cells, args.strata, args.seed)
    log(f"{len(frame)} cells, N={space.model.cells_per_stage}, C={space.model.stem_channels}")
    done = pd.read_csv(args.scores) if args.scores and args.scores.exists() else None
    rows: list[dict] = [] if done is None else done.to_dict("records")
    seen = {str(r["arch"]) for r in rows}
    seconds = dict.fromkeys(PROXY_NAMES, 0.0)
    build, timed = 0.0, 0
    t_all = time.perf_counter()
    for text in frame["arch"]:
        if text in seen:
            continue
        if args.minutes is not None and time.perf_counter() - t_all > 60 * args.minutes:
            log(f"stopped after {args.minutes} minutes")
            break
        t0 = time.perf_counter()
        net = default_init(create_subnet(space, space.parse(text), 10), args.seed)
        build += time.perf_counter() - t0
        row: dict = {"arch": text}
        for name in PROXY_NAMES:
            shape = (args.zen_batch if name == "zen" else 1, 3, 32, 32)
            t0 = time.perf_counter()
            row[name] = compute_proxy(name, net, None, None, seed=args.seed, input_shape=shape)
            seconds[name] += time.perf_counter() - t0
        rows.append(row)
        timed += 1
        if timed % 10 == 0:
            log(f"{len(rows)} cells, {(time.perf_counter() - t_all) / timed:.3f} s/cell")
            if args.scores:
                pd.DataFrame(rows).to_csv(args.scores, index=False)
    if args.scores:
        pd.DataFrame(rows).to_csv(args.scores, index=False)
    wall = time.perf_counter() - t_all
    frame = pd.DataFrame(rows).merge(frame, on="arch")
    scores = {name: frame[name].to_numpy() for name in PROXY_NAMES}
    n, per = len(frame), max(timed, 1)

    lines = head + [
        f"cells: {n} (stratified by CIFAR-10 validation accuracy, {args.strata} strata, "
        f"seed {args.seed}); networks C={space.model.stem_channels}, "
        f"N={space.model.cells_per_stage}, 3x32x32, PyTorch default init; zen batch "
        f"{args.zen_batch}",
        "",
        "| proxy | " + " | ".join(f"{d} valid | {d} test" for d, _ in DATASETS) + " | published "
        "(C10 / C100 / IN16) | s/cell |",
        "|---|" + "---|---|" * len(DATASETS) + "---|---|",
    ]
    for name in PROXY_NAMES:
        cells = []
        for _, col in DATASETS:
            for split in ("valid", "test"):
                rho = spearmanr(scores[name], frame[f"{col}_{split}"]).statistic
                cells.append(f"{rho:.3f}")
        pub = " / ".join("-" if v is None else f"{v}" for v in PUBLISHED.get(name, (None,) * 3))
        lines.append(f"| {name} | {' | '.join(cells)} | {pub} | {seconds[name] / per:.4f} |")
    lines += [
        "",
        f"seconds from the {timed} cells scored in this run: building a network (create_subnet "
        f"+ default_init) {build / per:.4f} s/cell; this run {wall:.0f} s ({wall / per:.3f} "
        f"s/cell), torch threads {args.threads}",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores",
        f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
