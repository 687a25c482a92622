"""Latency measurement and prediction quality on this machine (issue 3).

1. Repeatability: the same 20 ``mobile`` architectures measured twice on ``cpu``; rank
   correlation (Spearman, Kendall) and median relative difference between the two passes.
2. Lookup table: time to profile every layer of ``mobile`` on ``cpu`` and ``onnxruntime``,
   plus the correction fit (10 end-to-end measurements).
3. Predictor quality on 50 random ``mobile`` architectures (not those of the fit) per target:
   Kendall's tau, MAPE, share within +-10 %.
4. Search: ``--latency measured`` vs ``--latency hybrid`` at the same budget, seed and
   supernet checkpoint, each in its own database (no shared latency cache); the hybrid
   database gets the table before the timed run (its profiling time is item 2).

Writes Markdown to ``--out`` (default benchmarks/results/hardware.md).

    .venv/bin/python benchmarks/bench_hardware.py [--budget 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from nas.data import fit_to_space, load_data
from nas.hardware import TimingConfig, create_target
from nas.hardware.fingerprint import cpu_model
from nas.hardware.lut import fit_predictor, measure_arch, profile_table, quality, sample_archs
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.spaces import load_space
from nas.storage import Store, keys
from nas.storage.latency_cache import LatencyCache
from nas.supernet import create_subnet

# (target, clock) pairs of the repeatability, table and predictor sections
SETUPS = (("cpu", "wall"), ("cpu", "cpu"), ("onnxruntime", "wall"))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def repeatability(space, target, n: int) -> list[str]:
    archs = sample_archs(space, n, seed=7, extremes=False)
    shape = space.latency_input.shape
    nets = [create_subnet(space, a, 10) for a in archs]
    first = [target.measure(net, shape).median_ms for net in nets]
    second = [target.measure(net, shape).median_ms for net in nets]
    a, b = np.asarray(first), np.asarray(second)
    rel = np.abs(a - b) / np.minimum(a, b)
    return [
        f"| {target.name} | {n} | {spearmanr(a, b).statistic:.3f} | "
        f"{kendalltau(a, b).statistic:.3f} | {100 * np.median(rel):.1f} % | "
        f"{100 * rel.max():.1f} % | {a.min():.1f}-{a.max():.1f} |"
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--supernet-epochs", type=int, default=20)
    ap.add_argument("--folder", default=None)
    ap.add_argument("--out", default="benchmarks/results/hardware.md")
    ap.add_argument("--seeds", type=int, default=3, help="validation sets per setup")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--clock", default="wall", help="clock of the search section")
    args = ap.parse_args()
    folder = Path(args.folder or tempfile.mkdtemp(prefix="nas-bench-hw-"))
    folder.mkdir(parents=True, exist_ok=True)
    space = load_space("mobile")
    out: list[str] = []
    started = time.perf_counter()
    load_before = os.getloadavg()

    # ---- 1. repeatability ------------------------------------------------------------------
    log("repeatability")
    rep = []
    for name, clock in SETUPS:
        t = create_target(name, threads=args.threads, timing=TimingConfig(clock=clock))
        rep += [
            r.replace(f"| {name} |", f"| {name} ({clock} clock) |", 1)
            for r in repeatability(space, t, args.repeat)
        ]
        log(rep[-1])

    # ---- 2 + 3. lookup tables and predictor quality -------------------------------------
    store = Store(f"sqlite:///{folder / 'lut.db'}")
    lut_rows, quality_rows = [], []
    for name, clock in SETUPS:
        target = create_target(name, threads=args.threads, timing=TimingConfig(clock=clock))
        label = f"{name} ({clock} clock)"
        log(f"profiling {label}")
        t0 = time.perf_counter()
        table = profile_table(store, space, target, 10)
        t_table = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = fit_predictor(store, space, target, 10, samples=10, seed=0)
        t_fit = time.perf_counter() - t0
        c = pred.correction
        lut_rows.append(
            f"| {label} | {len(table)} | {t_table:.0f} | {t_fit:.0f} | {c.a:.3f} | {c.b:.2f} |"
        )
        log(f"validating {label}")
        for seed in range(args.seeds):
            archs = sample_archs(space, args.samples, seed=seed + 1_000_003, extremes=False)
            cache = LatencyCache(store)
            measured, predicted = [], []
            for a in archs:
                measured.append(float(measure_arch(space, a, target, 10, cache)[0]["median_ms"]))
                predicted.append(pred.predict(a))
            q = quality(predicted, measured)
            raw = quality([pred.table_sum(a) for a in archs], measured)
            quality_rows.append(
                f"| {label} | {seed} | {q.n} | {q.kendall_tau:.3f} | {100 * q.mape:.1f} % | "
                f"{100 * q.within_10:.0f} % | {100 * raw.mape:.1f} % | "
                f"{min(measured):.1f}-{max(measured):.1f} |"
            )
            log(quality_rows[-1])
    cpu = create_target("cpu", threads=args.threads, timing=TimingConfig(clock=args.clock))

    # ---- 4. hybrid vs measured search --------------------------------------------------
    search_rows = []
    if not args.skip_search:
        ckpt = folder / "ckpt"
        for mode in ("measured", "hybrid"):
            url = f"sqlite:///{folder / f'search-{mode}.db'}"
            if mode == "hybrid":
                data = load_data(None)
                n_classes = fit_to_space(data, channels=3, resolution=16).num_classes
                fit_predictor(Store(url), space, cpu, n_classes, samples=10, seed=0)
            log(f"search {mode}")
            t0 = time.perf_counter()
            r = run_search(
                SearchOptions(
                    space="mobile",
                    budget=args.budget,
                    storage=url,
                    study=f"bench-{mode}",
                    threads=args.threads,
                    supernet_epochs=args.supernet_epochs,
                    checkpoint_dir=str(ckpt),
                    latency=mode,
                    clock=args.clock,
                )
            )
            wall = time.perf_counter() - t0 - r.seconds["supernet"]
            from nas.storage import studies as st

            trials = st.complete_trials(st.load(Store(url), f"bench-{mode}"))
            sources = [t.user_attrs.get(keys.LATENCY_SOURCE) for t in trials]
            n_measured = sum(s in ("measured", "cached") for s in sources)
            front_measured = sum(
                t.user_attrs.get(keys.LATENCY_SOURCE) != "predicted" for t in r.front
            )
            search_rows.append(
                f"| {mode} | {args.budget} | {wall:.0f} | {r.seconds['latency']:.0f} | "
                f"{n_measured} | {len(r.front)} ({front_measured} measured) |"
            )
            log(search_rows[-1])

    # ---- report ----------------------------------------------------------------------------
    import onnxruntime

    load_after = os.getloadavg()
    out += [
        "# Hardware benchmark (issue 3)",
        "",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
        f"measurement threads {args.threads}; input 1x3x224x224; cpu target with "
        "freed memory retained (docs/hardware.md); clock: wall = elapsed time, cpu = the "
        "measuring thread's CPU time.",
        f"Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (2 cores). Total "
        f"{(time.perf_counter() - started) / 60:.0f} min.",
        "",
        "## Repeatability (same architectures measured twice)",
        "",
        "| target | archs | Spearman | Kendall | median rel. diff | max rel. diff | ms range |",
        "|---|---|---|---|---|---|---|",
        *rep,
        "",
        "## Lookup table (mobile, every layer option at every position)",
        "",
        "| target | entries | profile s | fit s (10 archs) | a | b ms |",
        "|---|---|---|---|---|---|",
        *lut_rows,
        "",
        f"## Predictor quality ({args.samples} random mobile architectures per seed, not the "
        "fit's)",
        "",
        "Goal on the local CPU: tau >= 0.9 and >= 95 % within +-10 %.",
        "",
        "| target | seed | archs | Kendall tau | MAPE | within +-10 % | MAPE of bare sum "
        "| ms range |",
        "|---|---|---|---|---|---|---|---|",
        *quality_rows,
    ]
    if search_rows:
        out += [
            "",
            f"## Search: --latency measured vs hybrid (budget {args.budget}, "
            f"supernet {args.supernet_epochs} epochs, target cpu, {args.clock} clock)",
            "",
            "Seconds exclude supernet training (one checkpoint shared by both runs); the hybrid "
            "run's table was profiled beforehand (see above).",
            "",
            "| latency | budget | search s | latency s | end-to-end measured | front |",
            "|---|---|---|---|---|---|",
            *search_rows,
        ]
    text = "\n".join(out) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
