"""Make (or resume) a reference set: architectures of a space trained from scratch.

The project's own small NAS benchmark (issue 20): ``--archs`` architectures spread over the
space, stratified by size and latency, the largest and the smallest included, each trained
from scratch with one recipe (:class:`nas.supernet.standalone.StandaloneRecipe`) and
``--seeds`` seeds, ``--extra-seed-archs`` of them with one seed more, scored on the data's
whole validation split (10,000 images for Fashion-MNIST; its test split is never read).

Picking: a pool of ``--pool`` random architectures, split into three latency bands by the
number of active blocks (on a CPU at batch 1 a block's fixed per-operator cost dominates
latency), then ``archs - 2`` picks spread evenly over each band's parameter-count quantiles.
The picks depend on the space and ``--pick-seed`` only, so a resumed run picks the same set.

Resumable: one CSV row per (architecture, seed) is appended and flushed as soon as it is
trained; a rerun skips what is there. Runs ``--jobs`` trainings at a time, one thread each
(the recipe's ``threads``). All seed-0 runs come first, then seed 1, then the extra seeds, so
a set cut short still has one accuracy for every architecture.

    .venv/bin/python benchmarks/bench_reference.py [--space mobile] [--data fashion-mnist]
        [--archs 41] [--seeds 2] [--extra-seed-archs 11] [--jobs 2]
        [--out benchmarks/reference/mobile-v3-fashion-mnist.csv]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import random
import subprocess
import time
from pathlib import Path

import numpy as np

from nas.analysis.reference import ReferenceRow, append_rows, read_rows
from nas.supernet.standalone import StandaloneRecipe

ROOT = Path(__file__).resolve().parents[1]
_STATE: dict = {}


def pick(space, n: int, pool: int, seed: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """``n`` architectures: largest, smallest and ``n - 2`` spread over latency bands (active
    blocks) and, within each band, parameter-count quantiles."""
    import torch

    from nas.supernet import create_subnet

    rng = random.Random(seed)
    cand = {space.hash(a): a for a in (space.sample(rng) for _ in range(pool))}
    ends = [space.largest(), space.smallest()]
    for a in ends:
        cand.pop(space.hash(a), None)
    rows = []
    with torch.no_grad():
        for a in cand.values():
            blocks = sum(len(layers) for layers in space.layers(a))
            params = sum(p.numel() for p in create_subnet(space, a, 10).parameters())
            rows.append((blocks, params, a))
    blocks = np.array([r[0] for r in rows])
    edges = np.quantile(blocks, [1 / 3, 2 / 3])
    band = np.digitize(blocks, edges, right=True)  # 0, 1, 2
    picks = list(ends)
    per_band = [(n - 2) // 3 + (1 if b < (n - 2) % 3 else 0) for b in range(3)]
    for b in range(3):
        members = sorted((rows[i] for i in np.flatnonzero(band == b)), key=lambda r: r[1])
        idx = np.linspace(0, len(members) - 1, per_band[b]).round().astype(int)
        picks += [members[i][2] for i in sorted(set(idx))]
    return picks


def init_worker(space_name: str, data_name: str, recipe: dict) -> None:
    import torch

    from nas.data import load_for_space
    from nas.spaces import load_space

    torch.set_num_threads(recipe["threads"])
    space = load_space(space_name)
    _STATE.update(
        space=space,
        recipe=StandaloneRecipe(**recipe),
        data=load_for_space(data_name, space, train_images=recipe["train_images"]),
    )


def train_job(job: tuple[dict, int]) -> ReferenceRow:
    from nas.hardware.cost import count_flops
    from nas.supernet import create_subnet
    from nas.supernet.standalone import train_standalone

    arch, seed = job
    space, data, recipe = _STATE["space"], _STATE["data"], _STATE["recipe"]
    res = train_standalone(space, arch, data, recipe, seed)
    flops = count_flops(
        create_subnet(space, arch, data.num_classes).eval(), space.scoring_input.shape
    )
    return ReferenceRow(
        space.hash(arch),
        space.describe(arch),
        space.canonical(arch),
        seed,
        res.val_acc,
        res.val_images,
        res.params,
        flops,
        res.train_s,
    )


def _machine() -> str:
    from nas.hardware.fingerprint import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="mobile")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--archs", type=int, default=41)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--extra-seed-archs", type=int, default=11)
    ap.add_argument("--pool", type=int, default=3000)
    ap.add_argument("--pick-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=StandaloneRecipe.epochs)
    ap.add_argument("--train-images", type=int, default=StandaloneRecipe.train_images)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from nas.spaces import load_space

    space = load_space(args.space)
    recipe = StandaloneRecipe(train_images=args.train_images, epochs=args.epochs)
    out = args.out or ROOT / f"benchmarks/reference/{space.name}-v{space.version}-{args.data}.csv"
    meta_path = out.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta and (meta["recipe"] != recipe.as_dict() or meta["space_digest"] != space.digest):
        raise SystemExit(f"{out} was made with another recipe or space version; use --out")
    t_start = time.time()
    picks = pick(space, args.archs, args.pool, args.pick_seed)
    third = picks[:: max(1, len(picks) // args.extra_seed_archs)][: args.extra_seed_archs]
    jobs = [(a, s) for s in range(args.seeds) for a in picks]
    jobs += [(a, args.seeds) for a in third]
    done = {(r.arch_hash, r.seed) for r in read_rows(out)}
    todo = [(a, s) for a, s in jobs if (space.hash(a), s) not in done]
    print(f"{len(picks)} architectures, {len(jobs)} trainings, {len(todo)} to do", flush=True)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    meta.setdefault("runs", [])
    meta.update(
        space=space.name,
        space_version=space.version,
        space_digest=space.digest,
        data=args.data,
        recipe=recipe.as_dict(),
        archs=len(picks),
        seeds=args.seeds,
        extra_seed_archs=len(third),
        pick_seed=args.pick_seed,
        pool=args.pool,
        val_split="the data's whole validation split (Fashion-MNIST: 10,000 images carved "
        "from training with a fixed seed; the test split is not read)",
    )
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")  # readable while the set grows
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.jobs, init_worker, (args.space, args.data, recipe.as_dict())) as pool:
        for k, row in enumerate(pool.imap_unordered(train_job, todo), 1):
            append_rows(out, [row])
            print(
                f"[{k}/{len(todo)}] {row.arch_str} seed {row.seed}: {100 * row.val_acc:.2f} % "
                f"({row.train_s:.0f} s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    meta["runs"].append(
        {
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "trainings": len(todo),
            "wall_s": round(time.time() - t_start),
            "jobs": args.jobs,
            "code_version": commit,
            "machine": _machine(),
            "load_average_at_end": round(os.getloadavg()[0], 2),
        }
    )
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} and {meta_path}")


if __name__ == "__main__":
    main()
