"""Does fine-tuning after ``nas compress``'s pruning bring the test accuracy back?

docs/export.md describes what the default ``nas compress`` fine-tune recovers; this measures
it. A fixed ``mobile`` architecture (``--arch-seed``) is trained on its own on the search's
default training subset of Fashion-MNIST (``--train-epochs``, the supernet's optimiser and
schedule), then pruned as ``nas compress`` prunes by default (``--prune 0.5``: half of every
prunable layer's channels, by L1 x BatchNorm importance) and fine-tuned as it fine-tunes
(``nas.export.finetune``: SGD, cosine from lr 0.01, on the training subset the export records)
with ``--finetune-epochs`` and ``--seeds`` seeds per variant:

- ``labels``: the fine-tune ``nas compress`` ran before distillation (labels only);
- ``distill``: the same schedule, loss mixed with distillation from the unpruned network.

Test accuracy (the whole 10,000-image test split) before pruning, after pruning, after the
fine-tune; each accuracy with its binomial standard error sqrt(p(1-p)/n), each variant's mean
over seeds with the standard error of that mean. The machine, its load average and the wall
times go with the numbers into ``benchmarks/results/compress_recovery.md``.

    nice -n 15 .venv/bin/python benchmarks/bench_compress_recovery.py [--train-epochs 6]
        [--finetune-epochs 6] [--seeds 2] [--variants labels,distill]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from nas.data import load_for_space
from nas.export.finetune import finetune
from nas.export.study_export import evaluate
from nas.export.widths import prune
from nas.hardware.cost import count_params
from nas.hardware.fingerprint import cpu_model
from nas.search.options import SearchOptions
from nas.spaces import load_space
from nas.supernet import create_subnet
from nas.supernet.train import TrainConfig, train_module

OUT = Path(__file__).resolve().parent / "results" / "compress_recovery.md"
VARIANTS = ("labels", "distill")


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def _pct(p: float, se: float) -> str:
    return f"{100 * p:.2f} ± {100 * se:.2f}"


def _load() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--arch-seed", type=int, default=0)
    ap.add_argument("--train-epochs", type=int, default=6)
    ap.add_argument("--prune", type=float, default=0.5)
    ap.add_argument("--finetune-epochs", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if not set(variants) <= set(VARIANTS):
        raise SystemExit(f"--variants: choose from {', '.join(VARIANTS)}")
    loads = [_load()]
    opts = SearchOptions(data=args.data)  # the search's (and so the export's) subsets
    space = load_space("mobile")
    data = load_for_space(
        args.data, space, train_images=opts.train_images, val_images=opts.val_images
    )
    n_test = len(data.y_test)
    arch = space.sample(random.Random(args.arch_seed))
    torch.manual_seed(0)
    net = create_subnet(space, arch, data.num_classes)
    t0 = time.perf_counter()
    train_module(net, data, TrainConfig(epochs=args.train_epochs, seed=0))
    train_s = time.perf_counter() - t0
    net.eval()
    before = evaluate(net, data.x_test, data.y_test)
    print(f"trained {train_s:.0f} s: test {100 * before:.2f} %", flush=True)

    rows: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    pruned_acc, pruned_params, ft_s = None, 0, []
    for variant in variants:
        for seed in range(args.seeds):
            torch.manual_seed(seed)  # as nas compress seeds before pruning
            small = prune(net, args.prune)
            small.eval()
            after_prune = evaluate(small, data.x_test, data.y_test)
            pruned_acc, pruned_params = after_prune, count_params(small)
            t = time.perf_counter()
            finetune(
                small,
                data,
                epochs=args.finetune_epochs,
                seed=seed,
                teacher=net if variant == "distill" else None,
            )
            ft_s.append(time.perf_counter() - t)
            after = evaluate(small, data.x_test, data.y_test)
            rows[variant].append((after_prune, after))
            loads.append(_load())
            print(
                f"{variant} seed {seed}: pruned {100 * after_prune:.2f} %, fine-tuned "
                f"{100 * after:.2f} % ({ft_s[-1]:.0f} s)",
                flush=True,
            )

    lines = [
        "| variant | seed | test acc % after pruning | after fine-tune | change vs unpruned |",
        "|---|---:|---:|---:|---:|",
    ]
    summary = []
    for variant, results in rows.items():
        for seed, (p, a) in enumerate(results):
            lines.append(
                f"| {variant} | {seed} | {_pct(p, _se(p, n_test))} | {_pct(a, _se(a, n_test))} "
                f"| {100 * (a - before):+.2f} |"
            )
        accs = np.array([a for _, a in results])
        sem = float(accs.std(ddof=1) / math.sqrt(len(accs))) if len(accs) > 1 else float("nan")
        summary.append(
            f"- {variant}: mean after fine-tune {100 * accs.mean():.2f} % (standard error of the "
            f"mean over {len(accs)} seeds {100 * sem:.2f}; each accuracy's own binomial standard "
            f"error ≈ {100 * _se(float(accs.mean()), n_test):.2f}), "
            f"{100 * (accs.mean() - before):+.2f} points against the unpruned network"
        )
    text = "\n".join(
        [
            "# nas compress: does the fine-tune recover what pruning costs? (issue 14)",
            "",
            f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
            f"torch {torch.__version__}; load average (1/5/15 min) at the start and after each "
            f"fine-tune: {', '.join(loads)}; run under nice -n 15 next to other jobs",
            "",
            f"data: {args.data}, training subset {len(data.y_train)} images (the search's "
            f"default, which an export records and the fine-tune uses), test split {n_test}",
            "",
            f"architecture (mobile, arch seed {args.arch_seed}): `{space.describe(arch)}`, "
            f"{count_params(net) / 1e6:.2f} M parameters, trained alone for "
            f"{args.train_epochs} epochs ({train_s:.0f} s)",
            "",
            f"unpruned test accuracy: {_pct(before, _se(before, n_test))} %",
            "",
            f"pruned {args.prune} ({pruned_params / 1e6:.2f} M parameters), before any "
            f"fine-tune: {_pct(pruned_acc or 0.0, _se(pruned_acc or 0.0, n_test))} %",
            "",
            f"fine-tune: {args.finetune_epochs} epochs, seeds 0..{args.seeds - 1}, "
            f"{np.mean(ft_s):.0f} s each on average",
            "",
            *lines,
            "",
            *summary,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
