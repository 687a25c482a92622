"""The storage cost of one trial: nas's tabular search against Optuna's bare loop.

Two measurements on the NAS-Bench-201 sample table (``nb201_synthetic.csv``: no training, so
what is left is the trial loop and its storage):

1. **Statements per trial, by site**: one ``nas search`` (random strategy, fresh SQLite file)
   with a SQLAlchemy ``before_cursor_execute`` listener that charges every statement to the nas
   function that caused it and the Optuna call it went through (``heartbeat`` for Optuna's
   heartbeat thread). The same for Optuna's bare loop, for reference.
2. **Wall time, alternating pairs**: ``--pairs`` times, in alternating order, a fresh SQLite
   file each: ``run_search`` (as ``nas search --strategy random --evaluator table:...`` runs
   it, process start-up excluded) and Optuna's bare loop on the same table: ``study.optimize``
   with a ``RandomSampler``, the objective suggesting the same labels and returning the table's
   accuracy and latency. Reported: the ratio nas / bare of every pair, its median and spread.

The bare loop uses Optuna's ``RDBStorage`` as a user would create it (``optuna.create_study(
storage="sqlite:///...")``); ``--bare-pragmas`` gives it nas's SQLite settings too (WAL,
``synchronous=NORMAL``), the stricter baseline.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_trial_path.py [--trials 1000] [--pairs 5]
        [--sites-trials 300] [--table ../shared/bench/nb201_synthetic.csv] [--bare-pragmas]
        [--postgres-trials 300]

With ``--postgres-trials N`` the same two measurements run on a throwaway PostgreSQL server
(``tests/pgserver.py``, default durability, loopback), N trials a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import FrameType

import optuna
from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.evaluators.table import TableEvaluator, TableSpec  # noqa: E402
from nas.search.driver import run_search  # noqa: E402
from nas.search.options import SearchOptions  # noqa: E402
from nas.spaces import load_space  # noqa: E402
from nas.spaces.optuna_adapter import suggest  # noqa: E402

NAS_DIR = str(ROOT / "nas")
OPTUNA_DIR = os.path.dirname(optuna.__file__)


def _site(frame: FrameType | None) -> str:
    """``nas function -> Optuna call`` of the statement being executed from ``frame``."""
    optuna_call = ""
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(OPTUNA_DIR):
            if "_heartbeat" in path and frame.f_code.co_name == "_record_heartbeat":
                return "heartbeat thread"
            optuna_call = f"{Path(path).stem}.{frame.f_code.co_name}"
        elif path.endswith("nas/storage/db.py"):
            pass  # the session helper and the BEGIN listener: charged to their caller
        elif path.startswith(NAS_DIR):
            here = f"{Path(path).stem}.{frame.f_code.co_name}"
            return f"{here} -> {optuna_call}" if optuna_call else here
        elif path.startswith(str(ROOT)) or "benchmarks" in path:
            return f"(bench) -> {optuna_call}" if optuna_call else "(bench)"
        frame = frame.f_back
    return f"(thread) -> {optuna_call}" if optuna_call else "(other)"


class StatementSites:
    """Counts the SQL statements of every engine of this process by :func:`_site`."""

    def __init__(self) -> None:
        self.sites: Counter[str] = Counter()
        self.on = False
        event.listen(Engine, "before_cursor_execute", self._before)

    def _before(self, *_args) -> None:  # type: ignore[no-untyped-def]
        if self.on:
            self.sites[_site(sys._getframe(1))] += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.sites = Counter()
        self.on = True
        try:
            yield self.sites
        finally:
            self.on = False


def nas_run(table: Path, url: str, trials: int, seed: int) -> None:
    opts = SearchOptions(
        space="nb201",
        evaluator=f"table:{table}",
        storage=url,
        study="lean",
        strategy="random",
        budget=trials,
        seed=seed,
    )
    result = run_search(opts)
    assert result.completed == trials, result.completed


def _bare_storage(url: str, pragmas: bool) -> optuna.storages.RDBStorage:
    if not pragmas:
        return optuna.storages.RDBStorage(url)
    from nas.storage.db import _sqlite_pragmas

    storage = optuna.storages.RDBStorage(url)
    _sqlite_pragmas(storage.engine, set_wal=True, immediate=True)
    storage.engine.dispose()
    return storage


def bare_run(table: Path, url: str, trials: int, seed: int, pragmas: bool) -> None:
    """Optuna's own loop: random sampler, suggest the space's labels, look the cell up."""
    space = load_space("nb201")
    evaluator = TableEvaluator(space, TableSpec(table, "accuracy", "latency_ms"))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = suggest(trial, space)
        ev = evaluator.evaluate(arch, space.hash(arch))
        return ev.accuracy, ev.latency_ms

    study = optuna.create_study(
        storage=_bare_storage(url, pragmas),
        sampler=optuna.samplers.RandomSampler(seed=seed),
        directions=["maximize", "minimize"],
    )
    study.optimize(objective, n_trials=trials)


def timed(run: Callable[[str], None], url: str) -> float:
    t0 = time.perf_counter()
    run(url)
    return time.perf_counter() - t0


def sites_table(sites: Counter[str], trials: int, title: str) -> list[str]:
    total = sum(sites.values())
    lines = [f"**{title}**: {total / trials:.1f} statements per trial ({trials} trials)", ""]
    lines += ["| site (nas function -> Optuna call) | statements per trial |", "|---|---:|"]
    for site, n in sites.most_common():
        if n / trials >= 0.05:
            lines.append(f"| `{site}` | {n / trials:.2f} |")
    return lines


def count_sites(args: argparse.Namespace, table: Path, new_url: Callable[[str], str]) -> list[str]:
    """Statements per trial by site, nas then Optuna's bare loop."""
    counter = StatementSites()
    n = args.sites_trials
    with counter.counting() as sites:
        nas_run(table, new_url("sites_nas"), n, 0)
    lines = sites_table(sites, n, "nas search") + [""]
    with counter.counting() as sites:
        bare_run(table, new_url("sites_bare"), n, 0, args.bare_pragmas)
    return lines + sites_table(sites, n, "Optuna's bare loop") + [""]


def pairs(
    args: argparse.Namespace, table: Path, new_url: Callable[[str], str], trials: int, title: str
) -> list[str]:
    """``--pairs`` alternating runs of nas and the bare loop, each on a fresh database."""
    rows, ratios = [], []
    for i in range(args.pairs):
        order = ["nas", "bare"] if i % 2 == 0 else ["bare", "nas"]
        t: dict[str, float] = {}
        runs = {
            "nas": partial(nas_run, table, trials=trials, seed=i),
            "bare": partial(bare_run, table, trials=trials, seed=i, pragmas=args.bare_pragmas),
        }
        for who in order:
            t[who] = timed(runs[who], new_url(f"{who}{i}"))
        ratios.append(t["nas"] / t["bare"])
        row = (
            f"| {i + 1} | {' then '.join(order)} | {t['nas']:.2f} | {t['bare']:.2f} "
            f"| {1000 * t['nas'] / trials:.1f} | {1000 * t['bare'] / trials:.1f} "
            f"| {ratios[-1]:.2f} | {os.getloadavg()[0]:.1f} |"
        )
        print(title, row, flush=True)
        rows.append(row)
    lines = [
        f"**{title}, {trials} trials, a fresh database each**"
        + (" (bare loop with nas's SQLite pragmas)" if args.bare_pragmas else ""),
        "",
        "| pair | order | nas s | bare s | nas ms/trial | bare ms/trial | nas / bare | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]
    if ratios:
        lines += [
            f"ratio nas / bare: median **{statistics.median(ratios):.2f}** (min "
            f"{min(ratios):.2f}, max {max(ratios):.2f}, {len(ratios)} pairs)",
            "",
        ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--sites-trials", type=int, default=300)
    ap.add_argument(
        "--table", default=str(ROOT.parent / "shared" / "bench" / "nb201_synthetic.csv")
    )
    ap.add_argument("--bare-pragmas", action="store_true", help="nas's SQLite settings for bare")
    ap.add_argument(
        "--postgres-trials",
        type=int,
        default=0,
        help="also on a throwaway PostgreSQL server (tests/pgserver.py), this many trials a run",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "trial_path.md"))
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = Path(args.table).resolve()
    folder = Path(tempfile.mkdtemp(prefix="nas-bench-trial-path-"))
    os.chdir(folder)
    load_start = os.getloadavg()

    def sqlite_url(tag: str) -> str:
        return f"sqlite:///{folder / (tag + '.db')}"

    lines: list[str] = []
    if args.sites_trials:
        lines += count_sites(args, table, sqlite_url)
        print("\n".join(lines), flush=True)
    if args.trials:  # 0: PostgreSQL only
        lines += pairs(args, table, sqlite_url, args.trials, "SQLite")
    if args.postgres_trials:
        lines += postgres_part(args, table)
    write(args, load_start, lines)


def postgres_part(args: argparse.Namespace, table: Path) -> list[str]:
    from tests.pgserver import PostgresMissing, create_database, throwaway_postgres

    try:
        with throwaway_postgres(durable=True) as server:
            lines = []
            if args.sites_trials:
                lines += count_sites(args, table, lambda tag: create_database(server, tag))
            args.bare_pragmas = False  # SQLite's only
            return lines + pairs(
                args,
                table,
                lambda tag: create_database(server, tag),
                args.postgres_trials,
                "PostgreSQL (loopback, default durability)",
            )
    except PostgresMissing as exc:
        return [f"PostgreSQL: not measured ({exc})", ""]


def write(args: argparse.Namespace, load_start: tuple[float, float, float], lines: list[str]):  # type: ignore[no-untyped-def]
    from nas.hardware.fingerprint import cpu_model

    head = [
        "# Trial path: nas's tabular search against Optuna's bare loop",
        "",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, Python "
        f"{platform.python_version()}, Optuna {optuna.__version__}; load average "
        f"{load_start[0]:.1f} before, {os.getloadavg()[0]:.1f} after",
        "",
        f"command: `python benchmarks/bench_trial_path.py --trials {args.trials} --pairs "
        f"{args.pairs} --sites-trials {args.sites_trials}"
        + (" --bare-pragmas" if args.bare_pragmas else "")
        + (f" --postgres-trials {args.postgres_trials}" if args.postgres_trials else "")
        + "`",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(head + lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
