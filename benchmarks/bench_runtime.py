"""Eager torch against ONNX Runtime: does the runtime a front is measured on change the front?
(issue 24 item 1)

The export's deliverable is ``model.onnx``; the ``cpu`` target times the network in torch eager
mode, where per-operator overhead dominates small networks. This benchmark times the same
networks on both targets, the way a search does (``nas.hardware.lut.measure_arch``: a fresh
standalone network at the space's latency shape, the targets' own timing and noise flags), and
reports:

1. the rank correlation (Kendall tau and Spearman rho, 95 % bootstrap intervals) between eager
   and ONNX Runtime latency over ``--n`` random architectures of ``--space``;
2. the two Pareto fronts of the networks trained from scratch for the evidence issue
   (``benchmarks/results/value_v3/trained.csv``: accuracy on 10,000 held-out images) with each
   runtime's latency: their sizes, how many members they share, and the hypervolume (in the
   ONNX Runtime plane) lost by choosing on eager latency when deploying on ONNX Runtime;
3. the seconds each target spends per candidate (ONNX Runtime pays an export per network).

Each architecture is measured on both targets back to back, in alternating order, so both see
the same machine load. Latencies are cached in ``--cache`` (JSON), so a re-run only reports.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_runtime.py [--n 200] [--clock wall]
        [--out benchmarks/results/runtime.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from nas.analysis.leaderboard import bootstrap
from nas.hardware.fingerprint import cpu_model
from nas.hardware.lut import measure_arch
from nas.hardware.target import create_target
from nas.pareto import front_mask_2d, hypervolume_2d
from nas.search.driver import timing_options
from nas.spaces import load_space

TARGETS = ("cpu", "onnxruntime")
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", default="mobile")
    p.add_argument("--n", type=int, default=200, help="random architectures for the correlation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument(
        "--retest", type=int, default=50, help="random architectures measured twice (noise)"
    )
    p.add_argument("--trained", type=Path, default=RESULTS / "value_v3" / "trained.csv")
    p.add_argument("--cache", type=Path, default=RESULTS / "runtime" / "latency.json")
    p.add_argument("--out", type=Path, default=RESULTS / "runtime.md")
    return p.parse_args()


def trained_networks(path: Path) -> dict[str, tuple[dict, float]]:
    """arch hash -> (architecture, mean held-out accuracy in %) over the seeds trained."""
    acc: dict[str, list[float]] = {}
    arch: dict[str, dict] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            acc.setdefault(row["arch_hash"], []).append(100 * float(row["val_acc"]))
            arch[row["arch_hash"]] = json.loads(row["arch_json"])
    return {h: (arch[h], float(np.mean(v))) for h, v in acc.items()}


def measure_all(space, archs: dict[str, dict], args: argparse.Namespace) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Both targets' stats per architecture (cached), and the seconds each measurement took."""
    from nas.supernet import create_subnet

    targets = {
        t: create_target(t, threads=args.threads, **timing_options(args.clock)) for t in TARGETS
    }
    done: dict[str, dict] = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    for i, (h, arch) in enumerate(archs.items()):
        if h in done:
            continue
        module = create_subnet(space, arch, args.classes).eval()
        entry: dict[str, dict] = {}
        order = TARGETS if i % 2 == 0 else TARGETS[::-1]  # neither always goes first
        for t in order:
            t0 = time.perf_counter()
            stats = measure_arch(space, arch, targets[t], args.classes, None, module=module)[0]
            entry[t] = {**stats, "seconds": time.perf_counter() - t0}
        done[h] = entry
        args.cache.write_text(json.dumps(done, indent=1) + "\n")
        if i % 25 == 0:
            print(f"{i + 1}/{len(archs)} measured", flush=True)
    return done


def correlation_lines(h_random: list[str], lat: dict[str, dict]) -> list[str]:
    eager = [lat[h]["cpu"]["median_ms"] for h in h_random]
    ort = [lat[h]["onnxruntime"]["median_ms"] for h in h_random]
    tau, rho = bootstrap(eager, ort, "tau"), bootstrap(eager, ort, "rho")
    ratio = np.array(eager) / np.array(ort)
    noisy = {t: sum(bool(lat[h][t].get("noisy")) for h in h_random) for t in TARGETS}
    secs = {t: np.median([lat[h][t]["seconds"] for h in h_random]) for t in TARGETS}
    return [
        f"Over **{len(h_random)} random architectures**: Kendall tau **{tau.text()}**, "
        f"Spearman rho {rho.text()} (95 % bootstrap intervals).",
        "",
        "| | eager torch (`cpu`) | ONNX Runtime (`onnxruntime`) |",
        "|---|---|---|",
        f"| median latency, ms (min - max) | {np.median(eager):.3f} ({min(eager):.3f} - "
        f"{max(eager):.3f}) | {np.median(ort):.3f} ({min(ort):.3f} - {max(ort):.3f}) |",
        f"| networks flagged noisy | {noisy['cpu']} | {noisy['onnxruntime']} |",
        f"| seconds per candidate (median, build excluded) | {secs['cpu']:.2f} | "
        f"{secs['onnxruntime']:.2f} |",
        "",
        f"Eager / ONNX Runtime latency ratio: median {np.median(ratio):.1f}x "
        f"(range {ratio.min():.1f}x - {ratio.max():.1f}x).",
    ]


def retest_lines(hs: list[str], lat: dict[str, dict]) -> list[str]:
    """How well each runtime agrees with itself: the ceiling of any correlation between them."""
    if len(hs) < 3:
        return []
    parts = []
    for t in TARGETS:
        first = [lat[h][t]["median_ms"] for h in hs]
        second = [lat[f"{h}#retest"][t]["median_ms"] for h in hs]
        parts.append(f"{t} {bootstrap(first, second, 'tau').text()}")
    eager = [lat[h]["cpu"]["median_ms"] for h in hs]
    ort = [lat[h]["onnxruntime"]["median_ms"] for h in hs]
    return [
        f"Test-retest over {len(hs)} of them, measured a second time after the whole pass: "
        f"Kendall tau of each runtime with itself: {'; '.join(parts)}; between the runtimes on "
        f"the same {len(hs)}: {bootstrap(eager, ort, 'tau').text()}. A runtime that does not "
        "agree with itself caps what it can agree with.",
    ]


def front_lines(trained: dict[str, tuple[dict, float]], lat: dict[str, dict]) -> list[str]:
    hs = list(trained)
    acc = np.array([trained[h][1] for h in hs])
    ms = {t: np.array([lat[h][t]["median_ms"] for h in hs]) for t in TARGETS}
    fronts = {t: {hs[i] for i in np.flatnonzero(front_mask_2d(acc, ms[t]))} for t in TARGETS}
    shared = fronts["cpu"] & fronts["onnxruntime"]
    ref = float(ms["onnxruntime"].max()) * 1.1
    floor = float(acc.min()) - 1.0

    def hv(members: set[str]) -> float:
        idx = [hs.index(h) for h in members]
        return hypervolume_2d(acc[idx] - floor, ms["onnxruntime"][idx], ref)

    tau = bootstrap(ms["cpu"], ms["onnxruntime"], "tau")
    return [
        f"Over the **{len(hs)} networks trained from scratch** (`{len(hs)}` points; accuracy "
        "on 10,000 held-out images, se about 0.3 points): eager and ONNX Runtime latency "
        f"Kendall tau {tau.text()}.",
        "",
        "| front (trained accuracy x latency on ...) | members | shared with the other |",
        "|---|---|---|",
        f"| eager torch | {len(fronts['cpu'])} | {len(shared)} |",
        f"| ONNX Runtime | {len(fronts['onnxruntime'])} | {len(shared)} |",
        "",
        f"Hypervolume in the ONNX Runtime plane (accuracy above {floor:.2f} % x ms up to "
        f"{ref:.3f} ms): the ONNX Runtime front {hv(fronts['onnxruntime']):.3f}, the eager "
        f"front's networks {hv(fronts['cpu']):.3f} "
        f"({100 * (1 - hv(fronts['cpu']) / hv(fronts['onnxruntime'])):.1f} % lost by choosing "
        "on eager latency and deploying on ONNX Runtime).",
    ]


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)  # benchmark script: nothing here is a library's randomness
    space = load_space(args.space)
    rng = random.Random(args.seed)
    randoms: dict[str, dict] = {}
    while len(randoms) < args.n:
        a = space.sample(rng)
        randoms[space.hash(a)] = a
    trained = trained_networks(args.trained) if args.trained.exists() else {}
    load0 = os.getloadavg()
    t0 = time.time()
    lat = measure_all(space, {**randoms, **{h: a for h, (a, _) in trained.items()}}, args)
    again = {f"{h}#retest": a for h, a in list(randoms.items())[: args.retest]}
    lat.update(measure_all(space, again, args))  # the same networks, a second time
    load1 = os.getloadavg()
    lines = [
        "# Eager torch against ONNX Runtime latency (issue 24 item 1)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu_model()} ({os.cpu_count()} cores), "
        f"{platform.python_version()}, torch {torch.__version__}; space `{args.space}` at "
        f"{space.latency_input.text}, clock `{args.clock}`, threads "
        f"{args.threads or 'default'}; load average {load0[0]:.2f} before / {load1[0]:.2f} "
        f"after ({time.time() - t0:.0f} s measuring this run; cached entries are reused).",
        "",
        *correlation_lines(list(randoms), lat),
        "",
        *retest_lines([h for h in randoms if f"{h}#retest" in lat], lat),
    ]
    if trained:
        lines += ["", *front_lines(trained, lat)]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
