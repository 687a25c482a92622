"""The scorer leaderboard: how well does each scorer rank a reference set like training does?

Reads a reference set (``benchmarks/reference/*.csv``, made by ``bench_reference.py``:
architectures trained from scratch with several seeds), gives every architecture a score with
each scorer, and prints the leaderboard of :mod:`nas.analysis.leaderboard` (Kendall tau and
Spearman rho with 95 % bootstrap intervals, tau in the top 20 %, precision at the top 10 %,
seconds per candidate) and training's own seed-to-seed ceiling on the same set.

Scorers (``--scorers``, comma-separated):

- ``supernet``: inherited accuracy, the supernet trained (or loaded) exactly as the default
  ``nas search`` trains it (same data subsets, steps, seed), unless ``--sampling``,
  ``--supernet-steps``, ``--supernet-images`` or ``--smallest-every`` change the schedule to
  compare training rules on the same set;
- ``finetune``: the inherited network fine-tuned for ``--finetune-steps`` steps before scoring;
- ``params``, ``flops``: from the reference file;
- ``latency``: measured on the ``cpu`` target at the scoring shape (higher = slower);
- ``zc``: every zero-cost proxy of :mod:`nas.supernet.proxies` on freshly initialised networks.

Scores are written to ``--scores FILE.json`` (architecture hash -> score per scorer, and the
seconds each took), and ``--combine A.json B.json ...`` builds one leaderboard from several
runs' scores, with rank ensembles of the scorers named in ``--ensembles`` (``a+b;a+c``).

    .venv/bin/python benchmarks/bench_proxy.py --reference benchmarks/reference/X.csv
        [--scorers supernet,params,flops] [--sampling fair] [--scores out.json]
    .venv/bin/python benchmarks/bench_proxy.py --reference X.csv --combine a.json b.json
        [--ensembles "supernet+flops;supernet+flops+synflow"]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from nas.analysis.leaderboard import ScorerRow, evaluate, markdown, rank_ensemble
from nas.analysis.reference import by_arch, read_meta, read_rows


def _machine() -> str:
    from nas.hardware.fingerprint import cpu_model

    return (
        f"{cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def _supernet_scores(args, space, archs) -> tuple[dict, dict, str]:  # type: ignore[no-untyped-def]
    from nas.data import load_for_space
    from nas.search.driver import default_epochs
    from nas.search.options import SearchOptions
    from nas.storage import Store
    from nas.supernet.score import accuracy, calibration_batches, extract_scored
    from nas.supernet.train import TrainConfig, train_module
    from nas.supernet.trained import obtain_supernet

    opts = SearchOptions(data=args.data)  # the search's defaults: subsets, batch, seed
    train_images = args.supernet_images or opts.train_images
    data = load_for_space(args.data, space, train_images=train_images, val_images=opts.val_images)
    epochs = default_epochs(opts, data)
    if args.supernet_steps:
        epochs = max(1, round(args.supernet_steps / -(-len(data.y_train) // opts.batch_size)))
    schedule: dict = {"sampling": args.sampling}
    if args.smallest_every:
        schedule["smallest_every"] = args.smallest_every
    cfg = TrainConfig(
        epochs=epochs, batch_size=opts.batch_size, seed=opts.supernet_seed, **schedule
    )
    folder = Path(tempfile.mkdtemp(prefix="nas-proxy-"))
    url = args.storage or f"sqlite:///{folder / 'studies.db'}"
    t0 = time.perf_counter()
    net, status = obtain_supernet(Store(url), space, data, cfg, directory=folder / "ckpt")
    trained_s = time.perf_counter() - t0
    calib = calibration_batches(
        data.x_train, n_batches=opts.calib_batches, batch_size=128, seed=opts.supernet_seed
    )
    scores: dict = {"supernet": {}, "finetune": {}}
    secs: dict = {"supernet": 0.0, "finetune": 0.0}
    want_ft = "finetune" in args.scorers
    for a in archs:
        t = time.perf_counter()
        full, acc = extract_scored(net, a.arch, calib, data.x_val, data.y_val)
        secs["supernet"] += time.perf_counter() - t
        scores["supernet"][a.arch_hash] = acc
        if want_ft:
            t = time.perf_counter()
            steps = args.finetune_steps
            sub = full.train()
            ft_epochs = 1
            n = min(len(data.y_train), steps * opts.batch_size)
            part = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
            train_module(sub, part, TrainConfig(epochs=ft_epochs, lr=0.01, seed=0))
            scores["finetune"][a.arch_hash] = accuracy(sub, data.x_val, data.y_val)
            secs["finetune"] += time.perf_counter() - t
    secs = {k: v / len(archs) for k, v in secs.items()}
    if not want_ft:
        del scores["finetune"], secs["finetune"]
    note = (
        f"supernet {status} in {trained_s:.0f} s ({cfg}, {len(data.y_train)} training images); "
        f"scored on the search's {len(data.y_val)} validation images"
    )
    return scores, secs, note


def _latency_scores(space, archs, num_classes: int) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    from nas.hardware import create_target
    from nas.supernet import create_subnet

    target = create_target("cpu")
    scores, noisy, t0 = {}, 0, time.perf_counter()
    for a in archs:
        stats = target.measure(
            create_subnet(space, a.arch, num_classes).eval(), space.latency_input.shape
        )
        scores[a.arch_hash] = stats.median_ms
        noisy += stats.noisy
    secs = (time.perf_counter() - t0) / len(archs)
    print(f"latency: {noisy} of {len(archs)} measurements flagged noisy")
    return {"latency": scores}, {"latency": secs}


def _zero_cost_scores(space, archs, data_name: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    import torch

    from nas.data import load_for_space
    from nas.supernet import create_subnet
    from nas.supernet.proxies import PROXIES, compute_proxy

    data = load_for_space(data_name, space, train_images=2000, val_images=100)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(data.y_train))[:64]
    x = torch.from_numpy(data.x_train[idx])  # (64, C, H, W): one batch, as the papers use
    y = torch.from_numpy(data.y_train[idx]).long()
    scores: dict = {name: {} for name in PROXIES}
    secs: dict = dict.fromkeys(PROXIES, 0.0)
    for a in archs:
        for name in PROXIES:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                net = create_subnet(space, a.arch, data.num_classes)
            t = time.perf_counter()
            scores[name][a.arch_hash] = compute_proxy(name, net, x, y, seed=0)
            secs[name] += time.perf_counter() - t
    return scores, {k: v / len(archs) for k, v in secs.items()}


def _leaderboard(archs, scores: dict, secs: dict, ensembles: list[list[str]]) -> list[ScorerRow]:  # type: ignore[no-untyped-def]
    # every scorer on the same architectures: those all of them scored
    archs = [a for a in archs if all(a.arch_hash in s for s in scores.values())]
    if len(archs) < 3:
        raise SystemExit("fewer than 3 architectures have a score from every scorer")
    truth = np.array([a.mean_acc for a in archs])
    vec = {name: np.array([s[a.arch_hash] for a in archs], float) for name, s in scores.items()}
    rows = [evaluate(name, v, truth, seconds=secs.get(name)) for name, v in vec.items()]
    for members in ensembles:
        if all(m in vec for m in members):
            ens = rank_ensemble(*(vec[m] for m in members))
            cost = sum(secs.get(m) or 0.0 for m in members)
            rows.append(evaluate(" + ".join(members), ens, truth, seconds=cost))
    return rows


def _ceiling(archs) -> list[ScorerRow]:  # type: ignore[no-untyped-def]
    two = [a for a in archs if 0 in a.accs and 1 in a.accs]
    if len(two) < 3:
        return []
    s0 = np.array([a.accs[0] for a in two])
    s1 = np.array([a.accs[1] for a in two])
    return [evaluate(f"seed 0 vs seed 1 (training's ceiling, {len(two)} archs)", s0, s1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", type=Path, required=True)
    ap.add_argument("--data", default=None, help="default: the reference set's data")
    ap.add_argument("--scorers", default="supernet,params,flops")
    ap.add_argument("--sampling", default="sandwich")
    ap.add_argument("--supernet-steps", type=int, default=None)
    ap.add_argument("--supernet-images", type=int, default=None)
    ap.add_argument("--smallest-every", type=int, default=None)
    ap.add_argument("--finetune-steps", type=int, default=50)
    ap.add_argument("--label", default=None, help="suffix of this run's scorer names")
    ap.add_argument("--scores", type=Path, default=None, help="write the scores here")
    ap.add_argument("--combine", type=Path, nargs="*", default=None)
    ap.add_argument("--ensembles", default="")
    ap.add_argument("--storage", default=None)
    args = ap.parse_args()
    args.scorers = set(args.scorers.split(","))
    meta = read_meta(args.reference)
    args.data = args.data or meta.get("data", "fashion-mnist")
    archs = by_arch(read_rows(args.reference))
    if len(archs) < 3:
        raise SystemExit(f"{args.reference}: fewer than 3 architectures")
    ensembles = [e.split("+") for e in args.ensembles.split(";") if e]
    print(f"machine: {_machine()}")
    print(
        f"reference: {args.reference} ({len(archs)} architectures, "
        f"{sum(len(a.accs) for a in archs)} trainings, recipe {meta.get('recipe')})"
    )
    scores: dict = {}
    secs: dict = {}
    if args.combine is not None:
        for path in args.combine:
            blob = json.loads(path.read_text())
            scores.update(blob["scores"])
            secs.update(blob["seconds"])
    else:
        from nas.spaces import load_space

        space = load_space(meta.get("space", "mobile"))
        if space.digest != meta.get("space_digest", space.digest):
            raise SystemExit(f"{args.reference} was made on another version of {space.name}")
        label = f" ({args.label})" if args.label else ""
        if args.scorers & {"supernet", "finetune"}:
            s, t, note = _supernet_scores(args, space, archs)
            print(note)
            scores.update({k + label: v for k, v in s.items()})
            secs.update({k + label: v for k, v in t.items()})
        for name in ("params", "flops"):
            if name in args.scorers:
                scores[name] = {a.arch_hash: float(getattr(a, name)) for a in archs}
                secs[name] = None
        if "latency" in args.scorers:
            s, t = _latency_scores(space, archs, 10)
            scores.update(s)
            secs.update(t)
        if "zc" in args.scorers:
            s, t = _zero_cost_scores(space, archs, args.data)
            scores.update(s)
            secs.update(t)
        if args.scores:
            args.scores.write_text(json.dumps({"scores": scores, "seconds": secs}, indent=1))
    rows = _leaderboard(archs, scores, secs, ensembles)
    print()
    print(markdown([*rows, *_ceiling(archs)]))
    truth = [a.mean_acc for a in archs]
    print(
        f"\nstandalone accuracy over the set: {100 * min(truth):.2f}-{100 * max(truth):.2f} %; "
        f"best 10 % vs worst 10 %: {_decile_gap(truth):.2f} points"
    )


def _decile_gap(truth: list[float]) -> float:
    t = np.sort(np.asarray(truth))
    k = max(1, round(0.1 * len(t)))
    return 100 * float(t[-k:].mean() - t[:k].mean())


if __name__ == "__main__":
    main()
