"""Does the supernet rank architectures like training them does? (the proxy-fidelity check)

Trains (or loads) the ``mobile`` supernet exactly as the default ``nas search`` does (same data
subsets, schedule and seed), scores ``--pool`` random architectures with inherited weights,
picks ``--picks`` of them evenly spread over that inherited-accuracy range plus the largest and
the smallest, trains each from scratch with ``--seeds`` seeds by the ordinary training loop, and
reports:

- Kendall's tau and Spearman's rho between inherited and standalone validation accuracy;
- the seed-to-seed spread (standalone accuracy of two seeds of the same architecture, and the
  tau between seed 0 and seed 1: the ceiling any proxy can reach with this training);
- the cost ratio (seconds to score a candidate with inherited weights vs to train it).

Standalone accuracy is measured on the *whole* validation split (10,000 images for
Fashion-MNIST, standard error about 0.35 points) so its own noise stays small; inherited
accuracy on the search's validation subset, as the search scores it.

With ``--reference FILE`` (an earlier run's output, e.g. benchmarks/results/proxy_fashion.md)
the architectures and their standalone accuracies are read from that file instead of being
picked and trained again: the supernet is trained (or loaded) and the same architectures are
re-scored, so a change to the supernet's training is measured against the same reference in
minutes instead of an hour. ``--smallest-every K`` and ``--supernet-steps N`` change the
supernet's schedule for such comparisons (defaults: the search's).

With ``--study NAME --storage URL`` the one-line summary is written into that study's settings
(its ``fidelity`` field, which ``nas show`` prints): the study must have been made with the
same space, data and schedule, so the supernet measured is the one it searched with.

    .venv/bin/python benchmarks/bench_proxy.py --data fashion-mnist [--picks 12] [--seeds 2]
        [--epochs 10] [--study NAME --storage URL] [--reference FILE]
        [--smallest-every K] [--supernet-steps N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from nas.data import load_for_space
from nas.driver import default_epochs
from nas.hardware.fingerprint import cpu_model
from nas.options import SearchOptions
from nas.spaces import load_space
from nas.storage import Store
from nas.supernet import create_subnet
from nas.supernet.score import accuracy, calibration_batches, extract_scored
from nas.supernet.train import TrainConfig, train_module
from nas.trained_supernet import obtain_supernet


def _picks(scored: list[tuple[float, dict]], n: int, space) -> list[tuple[float | None, dict]]:  # type: ignore[no-untyped-def]
    idx = np.linspace(0, len(scored) - 1, n).round().astype(int)
    chosen: list[tuple[float | None, dict]] = [scored[i] for i in sorted(set(idx))]
    chosen += [(None, space.largest()), (None, space.smallest())]
    return chosen


REFERENCE_LINE = re.compile(r"(.+): inherited [\d.]+ standalone ([\d.]+(?: / [\d.]+)*)$")


def read_reference(path: Path, space) -> list[tuple[dict, list[float]]]:  # type: ignore[no-untyped-def]
    """``(architecture, standalone accuracies per seed)`` from an earlier run's output.

    The lines are ``<space.describe(arch)>: inherited X standalone A / B``; an architecture is
    rebuilt from its one-line form (depth = tokens per stage, ``kKeE`` per layer) and must
    describe back to the same line.
    """
    rows = []
    for line in path.read_text().splitlines():
        m = REFERENCE_LINE.match(line.strip())
        if not m:
            continue
        arch: dict = {}
        for i, stage in enumerate(m.group(1).split(" | ")):
            tokens = stage.split()
            arch[f"stage{i}.depth"] = len(tokens)
            for j, token in enumerate(tokens):
                k, e = re.fullmatch(r"k(\d+)e(\d+)", token).groups()  # type: ignore[union-attr]
                arch[f"stage{i}.layer{j}.kernel"], arch[f"stage{i}.layer{j}.expand"] = (
                    int(k),
                    int(e),
                )
        arch = space.canonical(arch)
        if space.describe(arch) != m.group(1):
            raise SystemExit(f"{path}: cannot rebuild {m.group(1)!r} in space {space.name!r}")
        rows.append((arch, [float(a) / 100 for a in m.group(2).split(" / ")]))
    if len(rows) < 3:
        raise SystemExit(f"{path}: fewer than 3 reference architectures")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--picks", type=int, default=12)
    ap.add_argument("--pool", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=10, help="standalone training epochs")
    ap.add_argument("--seeds", type=int, default=2, help="standalone runs per architecture")
    ap.add_argument("--storage", default=None, help="database with the supernet checkpoint")
    ap.add_argument("--study", default=None, help="write the fidelity line into this study")
    ap.add_argument("--reference", type=Path, default=None, help="re-use an earlier run's picks")
    ap.add_argument("--smallest-every", type=int, default=None)
    ap.add_argument("--supernet-steps", type=int, default=None)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nas-proxy-"))
    url = args.storage or f"sqlite:///{folder / 'studies.db'}"
    opts = SearchOptions(data=args.data)  # the search's defaults: subsets, batch, seed
    space = load_space(opts.space)
    data = load_for_space(
        args.data, space, train_images=opts.train_images, val_images=opts.val_images
    )
    full_val = load_for_space(args.data, space, train_images=opts.train_images)
    epochs = default_epochs(opts, data)
    schedule: dict = {}
    if args.supernet_steps:
        epochs = max(1, round(args.supernet_steps / -(-len(data.y_train) // opts.batch_size)))
    if args.smallest_every:
        schedule["smallest_every"] = args.smallest_every
    cfg = TrainConfig(
        epochs=epochs, batch_size=opts.batch_size, seed=opts.supernet_seed, **schedule
    )
    torch.manual_seed(opts.supernet_seed)
    store = Store(url)
    t0 = time.perf_counter()
    net, status = obtain_supernet(store, space, data, cfg, directory=folder / "ckpt")
    supernet_s = time.perf_counter() - t0
    calib = calibration_batches(
        data.x_train, n_batches=opts.calib_batches, batch_size=128, seed=opts.supernet_seed
    )

    reference = read_reference(args.reference, space) if args.reference else None
    rng = random.Random(1)
    n_pool = 10 if reference else args.pool  # a reference needs no pool: a few for the timing
    pool = {space.hash(a): a for a in (space.sample(rng) for _ in range(n_pool))}
    t0 = time.perf_counter()
    scored = [(extract_scored(net, a, calib, data.x_val, data.y_val)[1], a) for a in pool.values()]
    score_s = (time.perf_counter() - t0) / len(scored)
    scored.sort(key=lambda p: p[0])
    if reference:
        picks: list[tuple[float | None, dict]] = [(None, arch) for arch, _ in reference]
        args.seeds = len(reference[0][1])
    else:
        picks = _picks(scored, args.picks, space)

    inherited, standalone, per_seed, train_s = [], [], [], []
    for k, (acc_inh, arch) in enumerate(picks):
        if acc_inh is None:
            acc_inh = extract_scored(net, arch, calib, data.x_val, data.y_val)[1]
        accs = []
        for seed in range(args.seeds):
            if reference:  # trained in the earlier run
                accs.append(reference[k][1][seed])
                continue
            torch.manual_seed(seed)
            sub = create_subnet(space, arch, data.num_classes)
            t = time.perf_counter()
            train_module(sub, data, TrainConfig(epochs=args.epochs, seed=seed))
            train_s.append(time.perf_counter() - t)
            accs.append(accuracy(sub, full_val.x_val, full_val.y_val))
        inherited.append(acc_inh)
        standalone.append(float(np.mean(accs)))
        per_seed.append(accs)
        print(
            f"{space.describe(arch)}: inherited {100 * acc_inh:.2f} standalone "
            + " / ".join(f"{100 * a:.2f}" for a in accs),
            flush=True,
        )
    tau = kendalltau(inherited, standalone)
    rho = spearmanr(inherited, standalone)
    seeds = np.array(per_seed)  # (archs, seeds)
    spread = [abs(a - b) for row in seeds for a, b in itertools.combinations(row, 2)]
    seed_tau = kendalltau(seeds[:, 0], seeds[:, 1]).statistic if args.seeds > 1 else float("nan")
    n_val, n_full = len(data.y_val), len(full_val.y_val)
    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f} at the end; "
        f"supernet {status} ({supernet_s:.0f} s, {epochs} epochs over {len(data.y_train)} "
        "images)"
    )
    if reference:
        print(
            f"{len(picks)} architectures and their standalone accuracies ({args.seeds} seeds) "
            f"from {args.reference}; inherited on the search's {n_val} validation images; "
            f"supernet schedule {cfg}\n"
        )
    else:
        print(
            f"{len(picks)} architectures ({args.picks} spread over the inherited-accuracy range "
            f"of {len(scored)} random ones, plus the largest and the smallest); standalone: "
            f"{args.epochs} epochs x {args.seeds} seeds on the same {len(data.y_train)} "
            f"training images, scored on all {n_full} validation images; inherited on the "
            f"search's {n_val}\n"
        )
    print(
        "| Kendall tau | p | Spearman rho | seed-to-seed tau | median seed spread (pts) | "
        "inherited range % | standalone range % | s to score | s to train | cost ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {tau.statistic:.3f} | {tau.pvalue:.2g} | {rho.statistic:.3f} | {seed_tau:.3f} | "
        f"{100 * float(np.median(spread)) if spread else float('nan'):.2f} | "
        f"{100 * min(inherited):.1f}-{100 * max(inherited):.1f} | "
        f"{100 * min(standalone):.1f}-{100 * max(standalone):.1f} | "
        f"{score_s:.2f} | "
        + (
            "re-used | see the reference |"
            if reference
            else f"{np.mean(train_s):.1f} | 1:{np.mean(train_s) / score_s:.0f} |"
        )
    )
    line = (
        f"supernet fidelity (benchmarks/bench_proxy.py, {len(picks)} archs x {args.seeds} "
        f"seeds): Kendall tau {tau.statistic:.2f}, Spearman {rho.statistic:.2f}; "
        f"seed-to-seed tau {seed_tau:.2f}"
    )
    print("\n" + line)
    if args.study:
        from nas.storage import studies as st

        study = st.load(store, args.study)
        settings = st.settings_of(study)
        if settings is None or settings.data_fingerprint != data.fingerprint():
            raise SystemExit(f"study {args.study!r} was not made on this data and space")
        st.record_fidelity(study, line)
        print(f"written into study {args.study!r}")


if __name__ == "__main__":
    main()
