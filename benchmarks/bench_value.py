"""Does the search pay? The default strategy's front against random search and hand-picked nets.

Runs ``nas search --space mobile`` at ``--budget`` with the default strategy and with
``random`` on the same data, supernet and target (one database, so both share the supernet
checkpoint and the latency cache), then trains every member of both fronts and a set of
hand-picked uniform networks of the space (smallest, largest, all-k3e6, all-k5e4, ...) from
scratch, the same way for all (``--epochs`` epochs x ``--seeds`` seeds on the search's training
subset, accuracy on all validation images), and reports per set:

- the standalone accuracy (mean over seeds, with its standard error) and the latency (median on
  the search's target at the search's input shape, the same measurement the search records);
- the hypervolume of each set's own Pareto front in (standalone accuracy, latency), with one
  reference point for all sets (accuracy: the lowest standalone accuracy of any network minus
  one point; latency: the highest latency of any network times 1.1), in accuracy points x ms;
- which hand-picked networks some member of the search's front dominates or equals.

A Pareto plot is written to ``benchmarks/results/value.png`` (matplotlib, the ``bench`` extra)
and the Markdown table to stdout, for ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/bench_value.py [--data fashion-mnist] [--budget 200]
        [--epochs 10] [--seeds 1] [--storage URL]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nas.data import load_for_space
from nas.driver import run_search
from nas.hardware import create_target
from nas.hardware.fingerprint import cpu_model
from nas.hardware.lut import measure_arch
from nas.options import SearchOptions
from nas.pareto import front_mask_2d, hypervolume_2d
from nas.spaces import load_space
from nas.storage import keys
from nas.supernet import create_subnet
from nas.supernet.score import accuracy
from nas.supernet.train import TrainConfig, train_module

# (kernel, expand, depth) of every layer and stage: the networks a practitioner would try by hand
UNIFORM = [(3, 3, 1), (3, 6, 1), (3, 4, 2), (3, 6, 2), (5, 4, 2), (5, 6, 2), (3, 6, 3), (7, 6, 3)]


@dataclass
class Net:
    group: str  # "search" | "random" | "hand-picked"
    arch: dict
    name: str
    inherited: float | None = None
    accs: list[float] = field(default_factory=list)
    latency_ms: float = math.nan
    noisy: bool = False

    @property
    def acc(self) -> float:
        return float(np.mean(self.accs))


def uniform(space, kernel: int, expand: int, depth: int) -> dict:  # type: ignore[no-untyped-def]
    params = {}
    for c in space.choices:
        leaf = c.label.rsplit(".", 1)[1]
        params[c.label] = {"kernel": kernel, "expand": expand, "depth": depth}[leaf]
    return space.canonical(params)


def front_nets(opts: SearchOptions, group: str, space) -> list[Net]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = run_search(opts)
    print(
        f"{group}: study {result.study_name}, {result.completed} trials, front "
        f"{len(result.front)}, {time.perf_counter() - t0:.0f} s "
        f"(supernet {result.supernet})",
        flush=True,
    )
    return [
        Net(
            group,
            space.canonical(t.user_attrs[keys.ARCH]),
            f"trial {t.number}",
            inherited=float(t.user_attrs[keys.ACCURACY]),
        )
        for t in result.front
    ]


def hypervolume(nets: list[Net], ref_acc: float, ref_ms: float) -> float:
    """In accuracy points x ms above ``ref_acc`` (points) and below ``ref_ms``."""
    acc = np.array([100 * n.acc - ref_acc for n in nets])
    lat = np.array([n.latency_ms for n in nets])
    keep = acc > 0
    return hypervolume_2d(acc[keep], lat[keep], ref_ms) if keep.any() else 0.0


def plot(sets: dict[str, list[Net]], path: Path, title: str, n_val: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    style = {"search": ("C0", "o"), "random": ("C1", "s"), "hand-picked": ("C2", "^")}
    for group, nets in sets.items():
        colour, marker = style[group]
        lat = np.array([n.latency_ms for n in nets])
        acc = np.array([100 * n.acc for n in nets])
        se = np.array([100 * n_se(n, n_val) for n in nets])
        ax.errorbar(lat, acc, yerr=se, fmt=marker, color=colour, label=group, capsize=2)
        mask = front_mask_2d(acc, lat)
        order = np.argsort(lat[mask])
        ax.step(lat[mask][order], acc[mask][order], where="post", color=colour, alpha=0.5)
        if group == "hand-picked":
            for n, x, y in zip(nets, lat, acc, strict=True):
                ax.annotate(n.name, (x, y), fontsize=7, xytext=(3, -9), textcoords="offset points")
    ax.set_xlabel("latency (ms, median)")
    ax.set_ylabel("standalone validation accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def n_se(n: Net, n_val: int) -> float:
    """Standard error of the standalone accuracy: binomial on the validation split, and the
    seed-to-seed spread when there are several seeds (whichever is larger)."""
    p = n.acc
    binom = math.sqrt(p * (1 - p) / n_val)
    if len(n.accs) > 1:
        return max(binom, float(np.std(n.accs, ddof=1)) / math.sqrt(len(n.accs)))
    return binom


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=10, help="standalone training epochs")
    ap.add_argument("--seeds", type=int, default=1, help="standalone runs per network")
    ap.add_argument("--storage", default=None, help="database to search in (default: a new one)")
    ap.add_argument("--plot", default="benchmarks/results/value.png")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nas-value-"))
    url = args.storage or f"sqlite:///{folder / 'studies.db'}"
    base = SearchOptions(space="mobile", budget=args.budget, data=args.data, storage=url)
    space = load_space(base.space)
    default = base.strategy_name
    t_all = time.perf_counter()
    searched = front_nets(base, "search", space)
    rand = front_nets(base.model_copy(update={"strategy": "random"}), "random", space)
    hand = [
        Net("hand-picked", space.smallest(), "smallest"),
        Net("hand-picked", space.largest(), "largest"),
    ]
    hand += [Net("hand-picked", uniform(space, *u), "k{}e{}d{}".format(*u)) for u in UNIFORM]
    unique: dict[str, Net] = {}
    for n in hand:  # the first name of a network wins (smallest is also k3e3d1)
        unique.setdefault(space.hash(n.arch), n)
    hand = list(unique.values())
    data = load_for_space(
        args.data, space, train_images=base.train_images, val_images=base.val_images
    )
    full_val = load_for_space(args.data, space, train_images=base.train_images)
    n_val = len(full_val.y_val)
    target = create_target(base.target)
    trained: dict[str, list[float]] = {}  # a network in two sets is trained once
    train_s: list[float] = []
    for net in searched + rand + hand:
        h = space.hash(net.arch)
        if h not in trained:
            accs = []
            for seed in range(args.seeds):
                torch.manual_seed(seed)
                sub = create_subnet(space, net.arch, data.num_classes)
                t = time.perf_counter()
                train_module(sub, data, TrainConfig(epochs=args.epochs, seed=seed))
                train_s.append(time.perf_counter() - t)
                accs.append(accuracy(sub, full_val.x_val, full_val.y_val))
            trained[h] = accs
        net.accs = trained[h]
        print(
            f"{net.group:<11} {net.name:<10} {space.describe(net.arch)}: {100 * net.acc:.2f} %",
            flush=True,
        )
    # every network's latency measured afresh in one pass after all training (not the search's
    # cached figures, which were taken under other load), so all sets are timed alike
    timed: dict[str, dict] = {}
    for net in searched + rand + hand:
        h = space.hash(net.arch)
        if h not in timed:
            timed[h] = measure_arch(space, net.arch, target, data.num_classes, None)[0]
        stats = timed[h]
        net.latency_ms, net.noisy = float(stats["median_ms"]), bool(stats.get("noisy", False))
        print(
            f"{net.group:<11} {net.name:<10} {net.latency_ms:.2f} ms"
            f" (p10-p90 {stats['p10_ms']:.2f}-{stats['p90_ms']:.2f})"
            f"{' noisy' if net.noisy else ''}",
            flush=True,
        )
    sets = {"search": searched, "random": rand, "hand-picked": hand}
    everyone = searched + rand + hand
    ref_acc = min(100 * n.acc for n in everyone) - 1.0
    ref_ms = max(n.latency_ms for n in everyone) * 1.1
    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f} at the end; "
        f"{time.perf_counter() - t_all:.0f} s in all ({np.mean(train_s):.0f} s per training)"
    )
    print(
        f"data {args.data}: {len(data.y_train)} training images, standalone accuracy on all "
        f"{n_val} validation images after {args.epochs} epochs x {args.seeds} seed(s); "
        f"latency on {base.target} at {space.latency_input.text}; hypervolume reference "
        f"({ref_acc:.1f} %, {ref_ms:.2f} ms)\n"
    )
    print("| set | networks | on its front | accuracy range % | latency range ms | hypervolume |")
    print("|---|---|---|---|---|---|")
    for group, nets in sets.items():
        acc = np.array([100 * n.acc for n in nets])
        lat = np.array([n.latency_ms for n in nets])
        label = f"{default} (default)" if group == "search" else group
        print(
            f"| {label} | {len(nets)} | {int(front_mask_2d(acc, lat).sum())} | "
            f"{acc.min():.1f}-{acc.max():.1f} | {lat.min():.2f}-{lat.max():.2f} | "
            f"{hypervolume(nets, ref_acc, ref_ms):.1f} |"
        )
    print()
    for n in hand:  # is each hand-picked network dominated (or equalled) by the search's front?
        by = [s for s in searched if s.acc >= n.acc and s.latency_ms <= n.latency_ms]
        verdict = f"covered by {by[0].name}" if by else "NOT covered"
        print(f"- {n.name}: {100 * n.acc:.2f} % at {n.latency_ms:.2f} ms, {verdict}")
    title = (
        f"mobile on {args.data}: {default} vs random (budget {args.budget}) vs hand-picked; "
        f"standalone {args.epochs} epochs"
    )
    plot(sets, Path(args.plot), title, n_val)
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
