"""NAS-Bench-Macro against the built-in ``macro`` space (issue 21, items 3 and 4).

NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree Search",
CVPR 2021) trained all 6,561 networks of an 8-layer MobileNetV2-block space on CIFAR-10, three
seeds each (``../shared/bench/nas_bench_macro_cifar10.csv``, its README and licence beside it).
``search_spaces/macro.yaml`` builds that space; this benchmark

1. **checks the networks**: builds every architecture of the table (``create_subnet``) and
   compares its parameter count and FLOPs with the table's. The table's FLOPs are
   multiply-accumulates of the convolutions and the classifier at 1x3x32x32 (no BatchNorm,
   activation, addition or pooling): torch's ``FlopCounterMode`` count divided by 2 (it counts
   1 MAC = 2 FLOPs). Every mismatch is printed.
2. **correlates the data-free proxies** (params, flops, synflow, zen of
   :mod:`nas.supernet.proxies`, on networks freshly initialised from a seed with
   :func:`nas.supernet.proxies.default_init`) with the table's ``mean_acc``: Kendall's tau and
   Spearman's rho, each with a 95 % bootstrap interval over architectures. params and flops
   are computed on every architecture (phase 1); synflow and zen on all of them or on a sample
   stratified by ``mean_acc`` (``--sample``), scored resumably into ``--scores``. The ceiling is
   the table's own seed-to-seed agreement (seed 0 against seed 1). Published facts (the bench
   README): FLOPs tau 0.556, parameters 0.218, seed 0 vs seed 1 0.882.

    nice -n 10 .venv/bin/python benchmarks/bench_macro.py [--sample 3000] [--minutes M]
        [--scores benchmarks/results/scores/macro.csv] [--out benchmarks/results/macro.md]
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
from scipy.stats import kendalltau, spearmanr

from nas.hardware.fingerprint import cpu_model
from nas.spaces import ChainSpace, load_space
from nas.supernet import create_subnet
from nas.supernet.proxies import compute_proxy, default_init

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "bench" / "nas_bench_macro_cifar10.csv"
SHAPE = (1, 3, 32, 32)
PUBLISHED_TAU = {"flops": 0.556, "params": 0.218, "seed 0 vs seed 1": 0.882}
SCORED = ("synflow", "zen")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def macro_space() -> ChainSpace:
    space = load_space("macro")
    assert isinstance(space, ChainSpace)
    return space


def check_networks(space: ChainSpace, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Parameters and FLOPs (as MACs) of every architecture of ``table``, and the mismatches."""
    rows, bad = [], []
    t0 = time.perf_counter()
    for n, code in enumerate(table["arch"], 1):
        net = create_subnet(space, space.from_code(code), 10)
        params = sum(p.numel() for p in net.parameters())
        macs = compute_proxy("flops", net, None, None, input_shape=SHAPE) / 2
        rows.append({"arch": code, "our_params": params, "our_macs": int(macs)})
        if n % 500 == 0:
            log(f"{n} networks built, {(time.perf_counter() - t0) / n:.3f} s each")
    ours = table.merge(pd.DataFrame(rows), on="arch")
    for r in ours.itertuples():
        if r.our_params != r.params or r.our_macs != r.flops:
            bad.append(
                f"{r.arch}: params {r.our_params} vs table {r.params}, "
                f"MACs {r.our_macs} vs table FLOPs {r.flops}"
            )
    return ours, bad


def stratified(frame: pd.DataFrame, n: int, strata: int, seed: int) -> pd.DataFrame:
    """``n`` architectures, the same number from each of ``strata`` bins of ``mean_acc``,
    shuffled so that every prefix of the run is itself a random sample."""
    if n >= len(frame):
        order = frame.reset_index(drop=True)
        take = list(range(len(order)))
        random.Random(seed).shuffle(take)
        return order.iloc[take].reset_index(drop=True)
    order = frame.sort_values("mean_acc", kind="stable").reset_index(drop=True)
    bins = np.array_split(np.arange(len(order)), strata)
    rng = random.Random(seed)
    take: list[int] = []
    for k, b in enumerate(bins):
        share = n // strata + (1 if k < n % strata else 0)
        take += rng.sample(list(b), min(share, len(b)))
    rng.shuffle(take)
    return order.iloc[take].reset_index(drop=True)


def score(
    space: ChainSpace, codes: list[str], args: argparse.Namespace
) -> tuple[pd.DataFrame, dict[str, float], int]:
    """synflow and zen of ``codes``, resumed from and saved to ``args.scores``."""
    done = pd.read_csv(args.scores, dtype={"arch": str}) if args.scores.exists() else None
    rows: list[dict] = [] if done is None else done.to_dict("records")
    seen = {str(r["arch"]) for r in rows}
    seconds = dict.fromkeys(("build", *SCORED), 0.0)
    timed = 0
    t_all = time.perf_counter()
    for code in codes:
        if code in seen:
            continue
        if args.minutes is not None and time.perf_counter() - t_all > 60 * args.minutes:
            log(f"stopped after {args.minutes} minutes")
            break
        t0 = time.perf_counter()
        net = default_init(create_subnet(space, space.from_code(code), 10), args.seed)
        seconds["build"] += time.perf_counter() - t0
        row: dict = {"arch": code}
        for name in SCORED:
            shape = (args.zen_batch, *SHAPE[1:]) if name == "zen" else SHAPE
            t0 = time.perf_counter()
            row[name] = compute_proxy(name, net, None, None, seed=args.seed, input_shape=shape)
            seconds[name] += time.perf_counter() - t0
        rows.append(row)
        timed += 1
        if timed % 25 == 0:
            log(f"{len(rows)} scored, {(time.perf_counter() - t_all) / timed:.3f} s each")
            pd.DataFrame(rows).to_csv(args.scores, index=False)
    pd.DataFrame(rows).to_csv(args.scores, index=False)
    return pd.DataFrame(rows), seconds, timed


def correlations(
    x: np.ndarray, y: np.ndarray, boots: int, seed: int
) -> tuple[float, float, float, float, float, float]:
    """Kendall's tau (tau-b) and Spearman's rho with 95 % percentile bootstrap intervals."""
    tau, rho = kendalltau(x, y).statistic, spearmanr(x, y).statistic
    rng = np.random.default_rng(seed)
    taus, rhos = [], []
    for _ in range(boots):
        i = rng.integers(0, len(x), len(x))
        taus.append(kendalltau(x[i], y[i]).statistic)
        rhos.append(spearmanr(x[i], y[i]).statistic)
    t_lo, t_hi = np.percentile(taus, [2.5, 97.5])
    r_lo, r_hi = np.percentile(rhos, [2.5, 97.5])
    return tau, t_lo, t_hi, rho, r_lo, r_hi


def main() -> None:  # one report, top to bottom; the phases are the functions above
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, default=TABLE)
    p.add_argument("--sample", type=int, default=3000, help="architectures for synflow and zen")
    p.add_argument("--strata", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="sample, initialisation and proxy seed")
    p.add_argument("--zen-batch", type=int, default=16, help="Gaussian images per zen pass")
    p.add_argument("--boots", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--minutes", type=float, default=None, help="stop scoring after this long")
    p.add_argument("--scores", type=Path, default=ROOT / "benchmarks/results/scores/macro.csv")
    p.add_argument(
        "--networks", type=Path, default=None, help="CSV of the checked networks (re-used)"
    )
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.scores.parent.mkdir(parents=True, exist_ok=True)
    space = macro_space()
    table = pd.read_csv(args.table, dtype={"arch": str})
    log(f"{len(table)} architectures in {args.table.name}")

    t0 = time.perf_counter()
    if args.networks is not None and args.networks.exists():  # a re-run of the report
        cached = pd.read_csv(args.networks, dtype={"arch": str})
        ours = table.merge(cached[["arch", "our_params", "our_macs"]], on="arch")
        bad = [
            f"{r.arch}: params {r.our_params} vs {r.params}, MACs {r.our_macs} vs {r.flops}"
            for r in ours.itertuples()
            if r.our_params != r.params or r.our_macs != r.flops
        ]
        check_s = float(cached["check_s"].iloc[0])
    else:
        ours, bad = check_networks(space, table)
        check_s = (time.perf_counter() - t0) / len(table)
        if args.networks is not None:
            ours.assign(check_s=check_s)[["arch", "our_params", "our_macs", "check_s"]].to_csv(
                args.networks, index=False
            )
    for line in bad[:50]:
        print("MISMATCH", line)
    log(f"checked {len(ours)} networks: {len(bad)} mismatch(es), {check_s:.3f} s each")

    sample = stratified(table, args.sample, args.strata, args.seed)
    scored, seconds, timed = score(space, list(sample["arch"]), args)
    scored = scored[scored["arch"].isin(set(sample["arch"]))].merge(ours, on="arch")
    per = max(timed, 1)

    how = (
        "all, in a seeded random order: a stopped run has a uniform random subset"
        if args.sample >= len(table)
        else f"stratified by mean_acc, {args.strata} strata"
    )
    lines = [
        f"NAS-Bench-Macro: {len(table)} architectures; `macro` space digest {space.digest}",
        "",
        f"Networks: parameters and FLOPs of all {len(ours)} architectures built by "
        f"`create_subnet` against the table: {len(bad)} mismatch(es). The table's FLOPs are "
        "MACs of the convolutions and the classifier at 1x3x32x32 (torch FlopCounterMode / 2).",
        "",
        f"Correlation with `mean_acc` (Kendall tau-b, Spearman rho; 95 % bootstrap intervals, "
        f"{args.boots} resamples over architectures). synflow and zen on {len(scored)} "
        f"architectures ({how}, seed {args.seed}; "
        f"PyTorch default init from seed {args.seed}; zen batch {args.zen_batch}):",
        "",
        "| score | architectures | Kendall tau [95 % CI] | Spearman rho [95 % CI] "
        "| published tau | s/candidate |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, x: np.ndarray, y: np.ndarray, secs: str) -> None:
        tau, tl, th, rho, rl, rh = correlations(x, y, args.boots, args.seed)
        pub = PUBLISHED_TAU.get(name)
        lines.append(
            f"| {name} | {len(x)} | {tau:.3f} [{tl:.3f}, {th:.3f}] | {rho:.3f} [{rl:.3f}, "
            f"{rh:.3f}] | {'-' if pub is None else pub} | {secs} |"
        )

    acc = ours["mean_acc"].to_numpy()
    row("params", ours["our_params"].to_numpy(), acc, f"{check_s:.3f} (build + flops)")
    row("flops", ours["our_macs"].to_numpy(), acc, f"{check_s:.3f} (build + flops)")
    s_acc = scored["mean_acc"].to_numpy()
    for name in ("params", "flops"):  # the same two on the sample: what synflow and zen face
        row(
            f"{name} (sample)",
            scored[f"our_{name.replace('flops', 'macs')}"].to_numpy(),
            s_acc,
            "",
        )
    for name in SCORED:
        row(name, scored[name].to_numpy(), s_acc, f"{seconds[name] / per:.3f}" if timed else "")
    row(
        "seed 0 vs seed 1",
        table["test_acc_seed0"].to_numpy(),
        table["test_acc_seed1"].to_numpy(),
        "",
    )
    lines += [
        "",
        f"seconds per candidate from the {timed} scored in this run (building a network: "
        f"create_subnet + default_init {seconds['build'] / per:.3f} s); torch threads "
        f"{args.threads}",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores; load average at the end: "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; {time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
