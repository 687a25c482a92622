"""Strategies and zero-cost warm start on two hardware-aware tables (issue 21, items 4 and 5).

Two tables, every architecture with a real accuracy and a real latency:

- **NAS-Bench-Macro** (``nas_bench_macro_cifar10.csv``, accuracy ``mean_acc``), the ``macro``
  space, with the CPU latency of all 6,561 networks measured once on this machine by
  ``benchmarks/macro_latency.py`` (cached in ``benchmarks/results/macro_latency.csv``);
- **NAS-Bench-201** (``nb201_hw.csv``, ``cifar10_valid`` and ``raspi4_latency_ms``), ``nb201``.

On each, random, TPE, NSGA-II, evolution and NSGA-II warm-started (``--warm-start``,
:mod:`nas.search.warm_start`) search ``--seeds`` seeds each at budgets 50, 100 and 200 (a
separate search per budget, as a user runs it: NSGA-II's population and the warm start's size
follow the budget), in memory with the real search components
(:func:`bench_strategies.run_in_memory`). Reported: hypervolume ratio (the found front's
hypervolume over the whole table's front, reference point accuracy 0 and 1.1x the slowest
latency), mean and standard error over seeds, and the paired difference warm - plain NSGA-II;
and the warm-start curve: trials needed to reach a hypervolume ratio with and without it.

The pre-screen is the feature's own code (``draw_pool``, ``PoolScorer``, ``select``): a pool
of ``--pool`` architectures drawn with the run's seed, scored by a data-free proxy computed
from the network (never a table column), with the table's latency column as the cheap latency
(what ``nas search --warm-start`` uses with a table that has one), or FLOPs as the stand-in (what
it uses when latency is measured live). Proxy values depend on the architecture only (the
networks are initialised from seed 0), so they are computed once per architecture and cached
(``benchmarks/results/scores/warm_*.csv``).

    PYTHONPATH=. nice -n 5 .venv/bin/python benchmarks/bench_warm_start.py [--seeds 10]
        [--out benchmarks/results/warm_start.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import optuna
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_strategies import Experiment, machine, run_in_memory, true_front_hv  # noqa: E402

from nas.analysis.anytime import history  # noqa: E402
from nas.evaluators.table import TableEvaluator, TableSpec  # noqa: E402
from nas.search.warm_start import (  # noqa: E402
    DEFAULT_POOL,
    PoolScorer,
    draw_pool,
    select,
    size_for,
)
from nas.spaces import load_space  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "benchmarks" / "results"
BUDGETS = (50, 100, 200)
STRATEGIES = ("random", "tpe", "evolution", "nsga2")
THRESHOLDS = (0.95, 0.98, 0.99, 0.995)


@dataclass(frozen=True)
class Warm:
    """A warm-started NSGA-II: its proxy and where the pre-screen's latency comes from."""

    proxy: str
    latency: str  # "table" (the table's latency column) | "flops" (the stand-in)

    @property
    def name(self) -> str:
        lat = "table latency" if self.latency == "table" else "FLOPs stand-in"
        return f"nsga2 + warm {self.proxy} ({lat})"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def proxy_cache(space, proxy: str, path: Path) -> tuple[dict[str, float], float]:
    """``proxy`` of every architecture of ``space`` by its one-line form, and the seconds it
    took per architecture (computed by the feature's ``PoolScorer`` once, then cached)."""
    if path.exists():
        frame = pd.read_csv(path, dtype={"arch": str})
        return dict(zip(frame["arch"], frame[proxy], strict=True)), float(frame["seconds_each"][0])
    scorer = PoolScorer(space, proxy, num_classes=10, seed=0)
    archs = draw_pool(space, space.size(), 0)
    rows, t0 = [], time.perf_counter()
    for n, arch in enumerate(archs, 1):
        rows.append({"arch": space.describe(arch), proxy: scorer.score(arch)[0]})
        if n % 1000 == 0:
            log(f"{space.name} {proxy}: {n} scored, {(time.perf_counter() - t0) / n:.3f} s each")
    frame = pd.DataFrame(rows).assign(seconds_each=(time.perf_counter() - t0) / len(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return dict(zip(frame["arch"], frame[proxy], strict=True)), float(frame["seconds_each"][0])


def macro_flops(space, lat: pd.DataFrame, checks: int = 10) -> dict[str, float]:
    """The ``flops`` proxy of every macro network, from the latency run (which computed it with
    the same ``compute_proxy`` call at the same shape); checked against ``PoolScorer`` on a few."""
    flops = dict(zip(lat["arch"], lat["flops"].astype(float), strict=True))
    scorer = PoolScorer(space, "flops", num_classes=10, seed=0)
    for arch in draw_pool(space, checks, 1):
        got, want = scorer.score(arch)[0], flops[space.describe(arch)]
        if got != want:
            raise SystemExit(f"flops of {space.describe(arch)}: {got} here, {want} cached")
    return flops


def picks(space, evaluator, exp: Experiment, warm: Warm, proxies, pool: int, seed, budget):
    """The pre-screen of ``nas search --warm-start`` for one seed and budget (cached proxies:
    ``proxies[name]`` maps an architecture's one-line form to its value)."""
    scores, flops = proxies[warm.proxy], proxies.get("flops")
    pool = draw_pool(space, pool, seed)
    keys = [space.describe(a) for a in pool]
    s = [scores[k] for k in keys]
    if warm.latency == "table":
        lat = [evaluator.rows[k][exp.latency] for k in keys]
    else:
        lat = [flops[k] for k in keys]  # type: ignore[index]
    return [pool[i] for i in select(s, lat, size_for(budget))]


def mean_se(xs: list[float]) -> str:
    se = statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} ± {se:.3f}"


def reach(hv_ratios: list[float], threshold: float) -> int | None:
    """Trials needed to reach ``threshold`` (None: not within the run)."""
    for k, v in enumerate(hv_ratios, 1):
        if v >= threshold:
            return k
    return None


def run_table(
    space, exp: Experiment, warms: list[Warm], proxies, seeds: int, pool: int
) -> list[str]:
    """Every strategy, budget and seed on one table; its section of the report."""
    evaluator = TableEvaluator(space, TableSpec(Path(exp.table), exp.accuracy, exp.latency))
    _, hv_true, ref = true_front_hv(evaluator, exp)
    names = [*STRATEGIES, *(w.name for w in warms)]
    ratios: dict[tuple[str, int], list[list[float]]] = {}
    t0 = time.perf_counter()
    for budget in BUDGETS:
        for seed in range(seeds):
            for s in names:
                warm = next((w for w in warms if w.name == s), None)
                first = (
                    picks(space, evaluator, exp, warm, proxies, pool, seed, budget) if warm else ()
                )
                strategy = "nsga2" if warm else s
                run = run_in_memory(space, evaluator, exp, strategy, seed, budget, first)
                curve = [p.hypervolume / hv_true for p in history(run.trials, ref_ms=ref)]
                ratios.setdefault((s, budget), []).append(curve)
        log(f"{exp.name}: budget {budget} done ({time.perf_counter() - t0:.0f} s)")
    lines = [
        f"Hypervolume ratio at the end of a search of each budget, mean ± standard error over "
        f"{seeds} seeds (0..{seeds - 1}); reference point accuracy 0, latency {ref:.4g} ms; "
        f"whole-table front hypervolume {hv_true:.4g}. 'picks': the ratio after the warm "
        "start's enqueued trials alone; 'first generation': plain NSGA-II after as many trials "
        f"(its random first generation; {', '.join(str(size_for(b)) for b in BUDGETS)} trials).",
        "",
        "| strategy | " + " | ".join(f"HV ratio @{b}" for b in BUDGETS) + " |",
        "|---|" + "---|" * len(BUDGETS),
    ]
    for s in names:
        cells = [mean_se([c[-1] for c in ratios[(s, b)]]) for b in BUDGETS]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    for name in [w.name for w in warms] + ["nsga2"]:  # plain: its random first generation
        cells = [mean_se([c[size_for(b) - 1] for c in ratios[(name, b)]]) for b in BUDGETS]
        label = "first generation of" if name == "nsga2" else "picks of"
        lines.append(f"| ({label} {name}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Paired difference, warm-started minus plain NSGA-II (same seed and budget):",
        "",
    ]
    lines += ["| warm start | " + " | ".join(f"@{b}" for b in BUDGETS) + " |"]
    lines += ["|---|" + "---|" * len(BUDGETS)]
    for w in warms:
        cells = []
        for b in BUDGETS:
            diff = [
                a[-1] - p[-1]
                for a, p in zip(ratios[(w.name, b)], ratios[("nsga2", b)], strict=True)
            ]
            cells.append(mean_se(diff))
        lines.append(f"| {w.name} | " + " | ".join(cells) + " |")
    lines += curve_table(ratios, names, seeds)
    return lines


def curve_table(ratios, names: list[str], seeds: int) -> list[str]:
    """Trials needed to reach each hypervolume ratio, budget-200 searches."""
    b = BUDGETS[-1]
    lines = [
        "",
        f"Warm-start curve: trials a budget-{b} search needed to reach each hypervolume ratio, "
        f"median over the seeds that reached it (reached/{seeds} in brackets; the warm start's "
        f"{size_for(b)} enqueued trials count):",
        "",
        "| strategy | " + " | ".join(f"HV {t:g}" for t in THRESHOLDS) + " |",
        "|---|" + "---|" * len(THRESHOLDS),
    ]
    for s in names:
        cells = []
        for t in THRESHOLDS:
            hit = [k for c in ratios[(s, b)] if (k := reach(c, t)) is not None]
            cells.append(
                f"{statistics.median(hit):.0f} ({len(hit)}/{seeds})" if hit else f"- (0/{seeds})"
            )
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:  # the report, top to bottom; the work is in the functions above
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--pool", type=int, default=DEFAULT_POOL)
    ap.add_argument("--latency", type=Path, default=RESULTS / "macro_latency.csv")
    ap.add_argument("--out", type=Path, default=RESULTS / "warm_start.md")
    ap.add_argument("--tables", default="macro,nb201", help="which tables, comma-separated")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    t_start = time.perf_counter()
    lines = [
        "# Strategies and zero-cost warm start on hardware-aware tables (issue 21, items 4-5)",
        "",
        f"Generated by `benchmarks/bench_warm_start.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} "
        f"UTC; {args.seeds} seeds per strategy and budget; warm-start pool {args.pool} "
        "architectures per seed; Optuna in-memory storage.",
        "",
    ]
    tables = args.tables.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "macro" in tables:
            lines += macro_section(args, Path(tmp))
    if "nb201" in tables:
        lines += nb201_section(args)
    lines += [
        "",
        f"Machine: {machine()}. Whole benchmark: {time.perf_counter() - t_start:.0f} s.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


def macro_section(args: argparse.Namespace, tmp: Path) -> list[str]:
    """NAS-Bench-Macro with the CPU latency measured here, as a table with a latency column."""
    macro = load_space("macro")
    lat = pd.read_csv(args.latency, dtype={"arch": str})
    table = pd.read_csv(BENCH / "nas_bench_macro_cifar10.csv", dtype={"arch": str})
    if len(lat) != len(table):
        raise SystemExit(f"{args.latency} holds {len(lat)} of {len(table)} networks")
    merged = tmp / "macro_cpu.csv"
    table.merge(lat[["arch", "cpu_latency_ms"]], on="arch").to_csv(merged, index=False)
    exp = Experiment("NAS-Bench-Macro", str(merged), "mean_acc", "cpu_latency_ms", "pareto")
    proxies = {"flops": macro_flops(macro, lat)}
    warms = [Warm("flops", "table"), Warm("flops", "flops")]
    ms = lat["cpu_latency_ms"]
    lines = [
        "## NAS-Bench-Macro: `mean_acc` and CPU latency measured here",
        "",
        f"Latency: `benchmarks/results/macro_latency.csv` ({len(lat)} networks, median "
        f"{ms.median():.2f} ms, {ms.min():.2f} to {ms.max():.2f} ms; "
        f"{int(lat['noisy'].sum())} marked noisy; load average {lat['load1'].min():.1f} to "
        f"{lat['load1'].max():.1f} while it ran). Proxy `flops` from the same pass (checked "
        "against `PoolScorer` on 10 architectures).",
        "",
    ]
    return lines + run_table(macro, exp, warms, proxies, args.seeds, args.pool)


def nb201_section(args: argparse.Namespace) -> list[str]:
    """NAS-Bench-201 with HW-NAS-Bench's Raspberry Pi 4 latency."""
    nb201 = load_space("nb201")
    exp = Experiment(
        "NAS-Bench-201",
        str(BENCH / "nb201_hw.csv"),
        "cifar10_valid",
        "raspi4_latency_ms",
        "pareto",
    )
    params, each = proxy_cache(nb201, "params", RESULTS / "scores" / "warm_nb201_params.csv.gz")
    lines = [
        "",
        "## NAS-Bench-201: `cifar10_valid` and `raspi4_latency_ms`",
        "",
        f"Proxy `params` of all {len(params)} cells by `PoolScorer`: {each:.3f} s per cell "
        "(cached in `benchmarks/results/scores/warm_nb201_params.csv.gz`).",
        "",
    ]
    warm = [Warm("params", "table")]
    return lines + run_table(nb201, exp, warm, {"params": params}, args.seeds, args.pool)


if __name__ == "__main__":
    main()
