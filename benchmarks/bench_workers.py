"""Throughput of 1, 2 and 4 local workers on one study, SQLite and PostgreSQL.

For each storage back-end and evaluator, runs ``nas search --workers K`` (K real ``nas worker``
processes) on a fresh study and reports

- completed trials per minute, counted from the first trial's start to the last trial's end
  (process start-up and supernet training excluded; they are reported separately),
- the time per trial spent outside the evaluator (storage, sampler, coordination), from the
  trials' own timestamps,
- for one in-process worker, the time spent inside SQL statements per trial (SQLAlchemy
  cursor events): the storage overhead proper.

Evaluators: ``synthetic`` (no work at all: the storage and coordination cost alone), the
``mobile`` space with the real supernet evaluator (1 supernet epoch, 1 calibration batch), and
the tabular evaluator if this nas has it and ``--table PATH.csv`` is given (skipped otherwise).

PostgreSQL: a throwaway server is started in a temporary folder on a free loopback port
(Debian's ``postgresql`` package; as root it runs as the ``postgres`` user).

    .venv/bin/python benchmarks/bench_workers.py [--synthetic-budget 60] [--mobile-budget 8]
        [--out benchmarks/results/workers.md]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import optuna
from optuna.trial import TrialState
from sqlalchemy import event
from sqlalchemy.engine import Engine

from nas.evaluators.factory import EVALUATORS
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pgserver import PostgresMissing, create_database, throwaway_postgres  # noqa: E402


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """URL prefix of a throwaway PostgreSQL server (default durability), or None without one."""
    try:
        with throwaway_postgres(durable=True) as url:
            yield url
    except PostgresMissing:
        yield None


class SqlTimer:
    """Seconds spent inside SQL statements of every engine of this process."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        conn.info.setdefault("nas_t0", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self.seconds += time.perf_counter() - conn.info["nas_t0"].pop()
        self.statements += 1


def trial_stats(url: str, study: str) -> tuple[float, float, int]:
    """(trials per minute, median seconds per trial outside the evaluator, complete)."""
    trials = optuna.load_study(study_name=study, storage=url).get_trials(
        states=(TrialState.COMPLETE,)
    )
    start = min(t.datetime_start for t in trials)  # type: ignore[type-var]
    end = max(t.datetime_complete for t in trials)  # type: ignore[type-var]
    minutes = (end - start).total_seconds() / 60  # type: ignore[operator]
    outside = [
        (t.datetime_complete - t.datetime_start).total_seconds()  # type: ignore[operator]
        - float(t.user_attrs.get(keys.EVAL_SECONDS, 0.0))
        - float(t.user_attrs.get(keys.LATENCY_SECONDS, 0.0))
        for t in trials
        if keys.DUPLICATE_OF not in t.user_attrs
    ]
    return len(trials) / minutes, median(outside), len(trials)


TIMER: SqlTimer | None = None


def run_case(url: str, study: str, space: str, evaluator: str, budget: int, k: int) -> str:
    global TIMER
    opts = SearchOptions(
        space=space,
        budget=budget,
        evaluator=evaluator,
        storage=url,
        study=study,
        supernet_epochs=1,
        calib_batches=1,
        strategy="random",
        workers=k,
    )
    TIMER = TIMER or SqlTimer()
    TIMER.seconds, TIMER.statements = 0.0, 0
    t0 = time.perf_counter()
    result = run_search(opts)
    wall = time.perf_counter() - t0
    assert result.completed == budget and not any(result.worker_status), result
    per_min, outside, n = trial_stats(url, study)
    sql = "-"
    if k == 1:  # in-process: every statement of the search was timed
        sql = f"{1000 * TIMER.seconds / n:.1f} ms ({TIMER.statements / n:.0f} statements)"
    return f"| {k} | {n} | {per_min:.1f} | {1000 * outside:.0f} | {sql} | {wall:.0f} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic-budget", type=int, default=60)
    ap.add_argument("--mobile-budget", type=int, default=8)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--table", default=None, help="NAS-Bench-201 CSV for --evaluator table:PATH")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "workers.md"))
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ks = [int(k) for k in args.workers.split(",")]
    evaluators = [("tiny", "synthetic", args.synthetic_budget)]
    if "table" in EVALUATORS and args.table:  # the tabular evaluator (another branch)
        evaluators.append(("nb201", f"table:{args.table}", args.synthetic_budget))
    evaluators.append(("mobile", "supernet", args.mobile_budget))
    folder = Path(tempfile.mkdtemp(prefix="nas-bench-workers-"))
    os.chdir(folder)  # checkpoints of server databases go to ./nas_checkpoints
    lines = []
    with postgres() as server:
        backends = [("sqlite", None)] + ([("postgresql", server)] if server else [])
        for backend, srv in backends:
            for space, evaluator, budget in evaluators:
                space_arg = (
                    str(ROOT / "tests" / "data" / "tiny.yaml") if space == "tiny" else space
                )
                lines.append(
                    f"\n**{backend}, {evaluator} evaluator, space {space}, budget {budget}**\n"
                )
                lines.append(
                    "| workers | complete | trials/min "
                    "| ms/trial outside eval+latency timers (median) "
                    "| SQL time/trial (1 worker, in-process) "
                    "| wall s (incl. start-up, supernet) |"
                )
                lines.append("|---|---|---|---|---|---|")
                db = f"{backend}_{evaluator.partition(':')[0]}"
                url = (
                    f"sqlite:///{folder / (db + '.db')}"
                    if srv is None
                    else create_database(srv, db)
                )
                for k in ks:
                    study = f"{evaluator.partition(':')[0]}-k{k}"
                    row = run_case(url, study, space_arg, evaluator, budget, k)
                    print(backend, evaluator, row, flush=True)
                    lines.append(row)
    import torch

    from nas.hardware.fingerprint import cpu_model

    head = [
        "# Workers: throughput and storage overhead",
        "",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}, "
        f"torch {torch.__version__}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (a shared machine: other jobs ran at the same time)",
        "",
        "command: `python benchmarks/bench_workers.py "
        f"--synthetic-budget {args.synthetic_budget} --mobile-budget {args.mobile_budget}`; "
        "strategy random, supernet 1 epoch, 1 calibration batch. "
        "trials/min counts from the first trial's start to the last trial's end.",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(head + lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
