"""Does the search pay? The default search's front against random search's and hand-picked nets.

Three phases, each resumable, so the hours of training can run in the background and the
latency pass can wait for a quiet machine:

``search``
    ``nas search --space mobile --budget B`` with the default strategy and evaluator, and with
    ``--strategy random`` (same evaluator), for ``--search-seeds`` seeds each, one database.
    Each search's front is written to ``DIR/fronts.json``. Fronts longer than ``--cap`` are
    thinned to ``--cap`` members spread evenly over the front's latency order (the same rule
    for every set; the hypervolume of a thinned front is a lower bound of the full one's).
``train``
    Every network of every front, and hand-picked uniform networks of the space (smallest,
    largest, all-k3e6 at the largest widths, ...), trained from scratch with the reference
    set's recipe (:class:`nas.supernet.standalone.StandaloneRecipe`, seed 0) and scored on the
    data's whole validation split. One CSV row per network in ``DIR/trained.csv`` (the
    reference-set schema), appended as soon as it is trained; networks that are already in
    the space's reference set with seed 0 are taken from it, not retrained (same recipe, and
    training is deterministic for a recipe, seed and thread count).
``report``
    Every network's latency measured afresh in one pass on ``--target`` (run it on a quiet
    machine), then per set the hypervolume of its own Pareto front in (standalone accuracy,
    latency) with one reference point for all sets (accuracy: the lowest of any network minus
    one point; latency: the highest times 1.1), in accuracy points x ms. Default against random:
    the mean over search seeds of each, the difference with its bootstrap standard error and
    95 % interval (seeds resampled within each strategy), and which hand-picked networks each
    default front covers (some member at least as accurate and at least as fast). Markdown to
    stdout for ``benchmarks/RESULTS.md``; a plot to ``DIR/value.png`` (the ``bench`` extra).

    .venv/bin/python benchmarks/bench_value.py search [--budget 200] [--search-seeds 3]
    .venv/bin/python benchmarks/bench_value.py train [--jobs 2]
    .venv/bin/python benchmarks/bench_value.py report [--target cpu]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.analysis.reference import append_rows, read_rows
from nas.supernet.standalone import StandaloneRecipe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_reference import init_worker, train_job  # noqa: E402  (a sibling script)

# (kernel, expand, depth, width) of every layer and stage, width as the index of each stage's
# width options (0: narrowest, -1: widest): the networks a practitioner would try by hand
UNIFORM = [
    (3, 3, 1, 0),
    (3, 6, 1, -1),
    (3, 3, 2, 1),
    (3, 6, 2, -1),
    (5, 3, 2, 1),
    (5, 6, 2, -1),
    (3, 6, 3, 1),
    (7, 6, 3, -1),
]
GROUPS = ("default", "random")


def uniform(space, kernel: int, expand: int, depth: int, width: int) -> dict:  # type: ignore[no-untyped-def]
    params: dict = {}
    for c in space.choices:
        leaf = c.label.rsplit(".", 1)[1]
        if leaf == "width":
            params[c.label] = c.options[width]
        else:
            params[c.label] = {"kernel": kernel, "expand": expand, "depth": depth}[leaf]
    return space.canonical(params)


def hand_picked(space) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Name -> architecture; the first name of a network wins (smallest is also k3e3d1w0)."""
    named = [("smallest", space.smallest()), ("largest", space.largest())]
    named += [
        ("k{}e{}d{}w{}".format(*u).replace("w-1", "wmax"), uniform(space, *u)) for u in UNIFORM
    ]
    out: dict[str, dict] = {}
    seen: set[str] = set()
    for name, arch in named:
        if space.hash(arch) not in seen:
            seen.add(space.hash(arch))
            out[name] = arch
    return out


def thin(front: list[dict], cap: int) -> list[dict]:
    """At most ``cap`` members, spread evenly over the front's latency order."""
    if len(front) <= cap:
        return front
    order = sorted(front, key=lambda m: m["search_latency_ms"])
    idx = sorted(set(np.linspace(0, len(order) - 1, cap).round().astype(int)))
    return [order[i] for i in idx]


def phase_search(args: argparse.Namespace) -> None:
    from nas.search.driver import run_search
    from nas.search.options import SearchOptions
    from nas.spaces import load_space
    from nas.storage import keys

    out = args.dir / "fronts.json"
    fronts = json.loads(out.read_text()) if out.exists() else {"searches": []}
    url = f"sqlite:///{args.dir / 'studies.db'}"
    space = load_space(args.space)
    for seed in range(args.search_seeds):
        for group in GROUPS:
            if any(s["group"] == group and s["seed"] == seed for s in fronts["searches"]):
                continue
            update = {"strategy": "random"} if group == "random" else {}
            opts = SearchOptions(
                space=args.space, budget=args.budget, data=args.data, storage=url, seed=seed
            ).model_copy(update=update)
            t0 = time.perf_counter()
            res = run_search(opts)
            members = [
                {
                    "trial": t.number,
                    "arch": space.canonical(t.user_attrs[keys.ARCH]),
                    "score": float(t.values[0]),
                    "search_latency_ms": float(t.values[1]),
                }
                for t in res.front
            ]
            fronts["searches"].append(
                {
                    "group": group,
                    "seed": seed,
                    "study": res.study_name,
                    "strategy": res.settings.strategy,
                    "evaluator": res.settings.evaluator,
                    "trials": res.completed,
                    "front_size": len(members),
                    "wall_s": round(time.perf_counter() - t0, 1),
                    "members": thin(members, args.cap),
                }
            )
            print(
                f"{group} seed {seed}: {res.study_name}, {res.completed} trials, front "
                f"{len(members)} (kept {min(len(members), args.cap)}), "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            fronts.update(space=args.space, data=args.data, budget=args.budget, cap=args.cap)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(fronts, indent=1) + "\n")


def all_networks(space, fronts: dict) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Hash -> architecture of every network the report needs."""
    nets = {space.hash(a): a for a in hand_picked(space).values()}
    for s in fronts["searches"]:
        for m in s["members"]:
            nets.setdefault(space.hash(m["arch"]), m["arch"])
    return nets


def reference_csv(space, data: str) -> Path:  # type: ignore[no-untyped-def]
    return ROOT / f"benchmarks/reference/{space.name}-v{space.version}-{data}.csv"


def trained_accuracy(space, args: argparse.Namespace) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Hash -> seed-0 standalone accuracy, from this run's CSV and the reference set."""
    acc = {
        r.arch_hash: r.val_acc for r in read_rows(reference_csv(space, args.data)) if r.seed == 0
    }
    acc.update({r.arch_hash: r.val_acc for r in read_rows(args.dir / "trained.csv")})
    return acc


def phase_train(args: argparse.Namespace) -> None:
    from nas.spaces import load_space

    space = load_space(args.space)
    fronts = json.loads((args.dir / "fronts.json").read_text())
    nets = all_networks(space, fronts)
    done = trained_accuracy(space, args)
    todo = [(a, 0) for h, a in nets.items() if h not in done]
    print(f"{len(nets)} networks, {len(nets) - len(todo)} known, {len(todo)} to train", flush=True)
    recipe = StandaloneRecipe()
    t0 = time.time()
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.jobs, init_worker, (args.space, args.data, recipe.as_dict())) as pool:
        for k, row in enumerate(pool.imap_unordered(train_job, todo), 1):
            append_rows(args.dir / "trained.csv", [row])
            print(
                f"[{k}/{len(todo)}] {row.arch_str}: {100 * row.val_acc:.2f} % "
                f"({row.train_s:.0f} s, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    print(f"trained {len(todo)} in {time.time() - t0:.0f} s wall ({args.jobs} jobs)")


@dataclass
class Net:
    name: str
    acc: float  # percent
    latency_ms: float


def hypervolume(nets: list[Net], ref_acc: float, ref_ms: float) -> float:
    """In accuracy points x ms above ``ref_acc`` (points) and below ``ref_ms``."""
    from nas.pareto import hypervolume_2d

    acc = np.array([n.acc - ref_acc for n in nets])
    lat = np.array([n.latency_ms for n in nets])
    keep = acc > 0
    return hypervolume_2d(acc[keep], lat[keep], ref_ms) if keep.any() else 0.0


def bootstrap_diff(a: np.ndarray, b: np.ndarray, n: int = 20_000, seed: int = 0):  # type: ignore[no-untyped-def]
    """Mean(a) - mean(b): (difference, bootstrap standard error, 95 % interval)."""
    rng = np.random.default_rng(seed)
    da = rng.choice(a, size=(n, len(a))).mean(axis=1)
    db = rng.choice(b, size=(n, len(b))).mean(axis=1)
    d = da - db
    return float(a.mean() - b.mean()), float(d.std(ddof=1)), np.percentile(d, [2.5, 97.5])


def phase_report(args: argparse.Namespace) -> None:
    import torch

    from nas.hardware import create_target
    from nas.hardware.fingerprint import cpu_model
    from nas.hardware.lut import measure_arch
    from nas.pareto import front_mask_2d
    from nas.spaces import load_space

    space = load_space(args.space)
    fronts = json.loads((args.dir / "fronts.json").read_text())
    nets = all_networks(space, fronts)
    acc = trained_accuracy(space, args)
    missing = [h for h in nets if h not in acc]
    if missing:
        raise SystemExit(f"{len(missing)} networks not trained yet: run the train phase")
    target = create_target(args.target)
    lat_path = args.dir / f"latency-{args.target}.json"
    timed = json.loads(lat_path.read_text()) if lat_path.exists() else {}
    load0 = os.getloadavg()[0]
    for h, a in nets.items():  # one pass after all training, all sets timed alike
        if h not in timed:
            timed[h] = measure_arch(space, a, target, 10, None)[0]
            lat_path.write_text(json.dumps(timed, indent=1) + "\n")
    load1 = os.getloadavg()[0]
    noisy = sum(bool(timed[h].get("noisy")) for h in nets)

    def net(name: str, arch: dict) -> Net:
        h = space.hash(arch)
        return Net(name, 100 * acc[h], float(timed[h]["median_ms"]))

    hand = [net(n, a) for n, a in hand_picked(space).items()]
    sets = {
        (s["group"], s["seed"]): [net(f"trial {m['trial']}", m["arch"]) for m in s["members"]]
        for s in fronts["searches"]
    }
    everyone = hand + [n for ns in sets.values() for n in ns]
    ref_acc = min(n.acc for n in everyone) - 1.0
    ref_ms = max(n.latency_ms for n in everyone) * 1.1
    hv = {k: hypervolume(v, ref_acc, ref_ms) for k, v in sets.items()}
    hv_hand = hypervolume(hand, ref_acc, ref_ms)
    n_val = 10_000
    se_acc = 100 * math.sqrt(0.88 * 0.12 / n_val)
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, torch "
        f"{torch.__version__}; latency on {args.target} at "
        f"{space.latency_input.text}, load average {load0:.2f} before / {load1:.2f} after the "
        f"timing pass; {noisy} of {len(nets)} timings flagged noisy"
    )
    print(
        f"{len(nets)} networks trained from scratch (reference recipe, seed 0: "
        f"{StandaloneRecipe().as_dict()}), accuracy on {n_val:,} validation images "
        f"(binomial se about {se_acc:.2f} points); budget {fronts['budget']}, fronts thinned to "
        f"at most {fronts['cap']}; hypervolume reference ({ref_acc:.2f} %, {ref_ms:.3f} ms)\n"
    )
    print("| set | seed | study | trials | front | trained | on own front | hypervolume |")
    print("|---|---|---|---|---|---|---|---|")
    for s in fronts["searches"]:
        ns = sets[(s["group"], s["seed"])]
        on = int(front_mask_2d([n.acc for n in ns], [n.latency_ms for n in ns]).sum())
        print(
            f"| {s['group']} ({s['strategy']}, {s['evaluator']}) | {s['seed']} | {s['study']} | "
            f"{s['trials']} | {s['front_size']} | {len(ns)} | {on} | "
            f"{hv[(s['group'], s['seed'])]:.3f} |"
        )
    print(f"| hand-picked | - | - | - | - | {len(hand)} | - | {hv_hand:.3f} |\n")
    by_group = {g: np.array([v for (gg, _), v in sorted(hv.items()) if gg == g]) for g in GROUPS}
    for g, v in by_group.items():
        se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
        print(f"- {g}: hypervolume {v.mean():.3f} ± {se:.3f} (mean ± se over {len(v)} seeds)")
    d, se, ci = bootstrap_diff(by_group["default"], by_group["random"])
    print(
        f"- default - random: {d:+.3f} (bootstrap se {se:.3f}, 95 % interval "
        f"[{ci[0]:+.3f}, {ci[1]:+.3f}], {d / se if se > 0 else float('inf'):.1f} se)"
    )
    print(f"- hand-picked networks' own front: {hv_hand:.3f}\n")
    for n in hand:
        cov = [
            seed
            for (g, seed), ns in sets.items()
            if g == "default" and any(m.acc >= n.acc and m.latency_ms <= n.latency_ms for m in ns)
        ]
        print(
            f"- {n.name}: {n.acc:.2f} % at {n.latency_ms:.3f} ms, covered by the default front "
            f"of {len(cov)} of {len(by_group['default'])} seeds"
        )
    search_plane(fronts)
    front_order(space, fronts, acc, timed)
    plot(sets, hand, args.dir / "value.png", args)


def search_plane(fronts: dict) -> None:
    """Default against random on what the search optimises: the proxy's score and the latency
    measured during the search (thinned fronts: a lower bound of each front's hypervolume)."""
    members = [m for s in fronts["searches"] for m in s["members"]]
    ref_ms = max(m["search_latency_ms"] for m in members) * 1.1
    hv: dict[str, list[float]] = {g: [] for g in GROUPS}
    for s in fronts["searches"]:
        score = np.array([m["score"] for m in s["members"]])
        lat = np.array([m["search_latency_ms"] for m in s["members"]])
        hv[s["group"]].append(
            hypervolume([Net("", a, m) for a, m in zip(score, lat, strict=True)], 0.0, ref_ms)
        )
    d, se, ci = bootstrap_diff(np.array(hv["default"]), np.array(hv["random"]))
    print(
        f"\nIn the search's own plane (score x latency measured during the search, reference "
        f"(0, {ref_ms:.3f} ms)): default {np.mean(hv['default']):.3f}, random "
        f"{np.mean(hv['random']):.3f}; default - random {d:+.3f} (bootstrap se {se:.3f}, 95 % "
        f"interval [{ci[0]:+.3f}, {ci[1]:+.3f}], {d / se if se > 0 else float('inf'):.1f} se)"
    )


def front_order(space, fronts: dict, acc: dict, timed: dict) -> None:  # type: ignore[no-untyped-def]
    """Does a front's score order survive training? Per front (where the score order is the
    search's latency order) and pooled over every distinct searched network."""
    from nas.analysis.leaderboard import bootstrap

    print("\nThe fronts' score order against trained accuracy (Kendall tau):\n")
    pooled: dict[str, tuple[float, float, float]] = {}
    for s in fronts["searches"]:
        hs = [space.hash(m["arch"]) for m in s["members"]]
        score = [m["score"] for m in s["members"]]
        t = bootstrap(score, [acc[h] for h in hs])
        print(
            f"- {s['group']} seed {s['seed']}: tau {t.value:+.2f} [{t.low:+.2f}, {t.high:+.2f}] "
            f"over {len(hs)}"
        )
        for h, m in zip(hs, s["members"], strict=True):
            pooled[h] = (m["score"], acc[h], float(timed[h]["median_ms"]))
    p = np.array(list(pooled.values()))
    t = bootstrap(p[:, 0], p[:, 1])
    lat = bootstrap(p[:, 2], p[:, 1])
    print(
        f"- pooled, {len(p)} distinct searched networks: score tau {t.value:.2f} "
        f"[{t.low:.2f}, {t.high:.2f}]; measured latency alone {lat.value:.2f} "
        f"[{lat.low:.2f}, {lat.high:.2f}] (95 % bootstrap over networks)"
    )


def plot(sets: dict, hand: list[Net], path: Path, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nas.pareto import front_mask_2d

    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    colour = {"default": "C0", "random": "C1"}
    for (group, seed), ns in sorted(sets.items()):
        lat = np.array([n.latency_ms for n in ns])
        acc = np.array([n.acc for n in ns])
        label = f"{group}" if seed == 0 else None
        ax.plot(
            lat,
            acc,
            "o" if group == "default" else "s",
            color=colour[group],
            alpha=0.5,
            label=label,
            ms=4,
        )
        mask = front_mask_2d(acc, lat)
        order = np.argsort(lat[mask])
        ax.step(lat[mask][order], acc[mask][order], where="post", color=colour[group], alpha=0.4)
    ax.plot(
        [n.latency_ms for n in hand], [n.acc for n in hand], "^", color="C2", label="hand-picked"
    )
    for n in hand:
        ax.annotate(
            n.name, (n.latency_ms, n.acc), fontsize=6, xytext=(3, -8), textcoords="offset points"
        )
    ax.set_xlabel(f"latency (ms, median, {args.target})")
    ax.set_ylabel("standalone validation accuracy (%)")
    ax.set_title(
        f"{args.space} on {args.data}: default search vs random vs hand-picked", fontsize=9
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"\nplot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=("search", "train", "report"))
    ap.add_argument("--space", default="mobile")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--search-seeds", type=int, default=3)
    ap.add_argument("--cap", type=int, default=12, help="most members kept per front")
    ap.add_argument("--jobs", type=int, default=2, help="trainings at a time")
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--dir", type=Path, default=ROOT / "benchmarks/results/value_v3")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    {"search": phase_search, "train": phase_train, "report": phase_report}[args.phase](args)


if __name__ == "__main__":
    main()
