"""Does the supernet rank architectures like training them does? (the proxy check)

Scores 200 random ``mobile`` architectures with inherited weights, picks ``--picks`` of them
evenly spread over that accuracy range, trains each from scratch on the same data with a fixed
schedule, and reports Kendall's tau and Spearman's rho between inherited and standalone
validation accuracy, plus the cost ratio (seconds to score one candidate with inherited
weights vs. seconds to train it).

    .venv/bin/python benchmarks/bench_proxy.py [--picks 12] [--epochs 20] [--seeds 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from nas.checkpoint import obtain_supernet
from nas.data import fit_to_space, load_data
from nas.hardware.fingerprint import cpu_model
from nas.spaces import load_space
from nas.storage import Store
from nas.supernet import create_subnet
from nas.supernet.score import (
    accuracy,
    calibration_batches,
    extract_scored,
    small_input_view,
)
from nas.supernet.train import TrainConfig, train_module


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--picks", type=int, default=12)
    ap.add_argument("--pool", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=20, help="standalone training epochs")
    ap.add_argument("--seeds", type=int, default=1, help="standalone runs per architecture")
    ap.add_argument("--storage", default=None, help="reuse this database's supernet checkpoint")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nas-proxy-"))
    url = args.storage or f"sqlite:///{folder / 'studies.db'}"
    space = load_space("mobile")
    data = fit_to_space(load_data(), channels=3, resolution=space.train_resolution)
    cfg = TrainConfig(epochs=20)  # the search's default supernet schedule
    torch.manual_seed(0)
    store = Store(url)
    net, status = obtain_supernet(store, space, data, cfg, directory=folder / "ckpt")
    calib = calibration_batches(data.x_train, n_batches=4, batch_size=128, seed=0)

    rng = random.Random(1)
    pool = {space.hash(a): a for a in (space.sample(rng) for _ in range(args.pool))}
    t0 = time.perf_counter()
    scored = [(extract_scored(net, a, calib, data.x_val, data.y_val)[1], a) for a in pool.values()]
    score_s = (time.perf_counter() - t0) / len(scored)
    scored.sort(key=lambda p: p[0])
    idx = np.linspace(0, len(scored) - 1, args.picks).round().astype(int)
    picks = [scored[i] for i in idx]

    inherited, standalone, train_s = [], [], []
    for acc_inh, arch in picks:
        accs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            full = create_subnet(space, arch, data.num_classes)
            # the exact small-input view: same function and gradients at the training
            # resolution, without oneDNN's slow large-kernel depthwise backward on tiny maps
            shape = (1, *data.x_train.shape[1:])
            sub = small_input_view(full, shape)
            t = time.perf_counter()
            train_module(sub, data, TrainConfig(epochs=args.epochs, seed=seed))
            train_s.append(time.perf_counter() - t)
            accs.append(accuracy(sub, data.x_val, data.y_val))
        inherited.append(acc_inh)
        standalone.append(float(np.mean(accs)))
        print(
            f"{space.describe(arch)}: inherited {acc_inh:.4f} standalone {standalone[-1]:.4f}",
            flush=True,
        )
    tau = kendalltau(inherited, standalone)
    rho = spearmanr(inherited, standalone)
    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}; supernet {status}"
    )
    print(
        f"{args.picks} architectures spread over the inherited-accuracy range of {len(scored)} "
        f"random ones; standalone: {args.epochs} epochs x {args.seeds} seed(s), same data\n"
    )
    print(
        "| Kendall tau | p | Spearman rho | inherited acc range | standalone acc range | "
        "s to score (inherited) | s to train | cost ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {tau.statistic:.3f} | {tau.pvalue:.3g} | {rho.statistic:.3f} | "
        f"{min(inherited):.4f}-{max(inherited):.4f} | "
        f"{min(standalone):.4f}-{max(standalone):.4f} | "
        f"{score_s:.2f} | {np.mean(train_s):.1f} | 1:{np.mean(train_s) / score_s:.0f} |"
    )


if __name__ == "__main__":
    main()
