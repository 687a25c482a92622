"""Eight workers on one PostgreSQL study, with and without an oversubscribed CPU (issue 23 item 3).

Two machines' worth of workers on one study: ``nas search --workers 4`` creates the study and
runs four local workers (machine one); as soon as the study exists, four ``nas worker --study``
processes join it (machine two). Tabular evaluator (NAS-Bench-201, ``nb201_hw.csv``: CIFAR-10
validation accuracy and Raspberry Pi 4 latency from the table), strategy random, ``--budget``
2,000 by default. Each run uses a fresh database on one throwaway PostgreSQL server.

With ``--busy N`` (the oversubscribed case), N busy-loop processes spin beside the workers and
the heartbeat is tightened (``NAS_HEARTBEAT_SECONDS=1``, ``NAS_GRACE_SECONDS=3``), so a late
heartbeat, and with it the stale-trial race of issue 25, is likely.

For each run it checks what the guarantees promise and reports it: exactly ``--budget``
COMPLETE trials, as many distinct architectures, every worker process exiting 0 (none lost to
the race), the number of trials another worker's sweep failed (and were retried), and the
completed trials per minute of each worker (from the trials' ``worker`` attribute).

    .venv/bin/python benchmarks/bench_many_workers.py [--runs 5] [--budget 2000] [--busy 0,3]
        [--out benchmarks/results/many_workers.md]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.hardware.fingerprint import cpu_model  # noqa: E402
from nas.storage import keys  # noqa: E402
from tests.pgserver import create_database, throwaway_postgres  # noqa: E402

TABLE = ROOT.parent / "shared" / "bench" / "nb201_hw.csv"


def _spin() -> None:  # pragma: no cover - a busy loop, killed by the parent
    while True:
        pass


@contextlib.contextmanager
def busy_loops(n: int) -> Iterator[None]:
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.join()


def _env(busy: int) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    if busy:  # make a late heartbeat likely: the race the workers must survive
        env.update(NAS_HEARTBEAT_SECONDS="1", NAS_GRACE_SECONDS="3")
    return env


def _wait_for_study(url: str, study: str, proc: subprocess.Popen, limit: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise SystemExit(f"nas search exited {proc.returncode} before the study existed")
        with contextlib.suppress(Exception):
            if study in optuna.get_all_study_names(storage=url):
                return
        time.sleep(0.5)
    raise SystemExit(f"study {study} did not appear within {limit:.0f} s")


def one_run(url: str, study: str, budget: int, busy: int, log: Path) -> dict:
    """Start 4 + 4 workers on a fresh study; what the database holds when they have all ended."""
    nas = [sys.executable, "-m", "nas"]
    common = ["--storage", url]
    search = [
        *nas, "search", "--space", "nb201", "--evaluator", f"table:{TABLE}",
        "--accuracy-column", "cifar10_valid", "--latency-column", "raspi4_latency_ms",
        "--strategy", "random", "--budget", str(budget), "--study", study, "--workers", "4",
        *common,
    ]  # fmt: skip
    env = _env(busy)
    t0 = time.perf_counter()
    with busy_loops(busy), log.open("w") as out:
        first = subprocess.Popen(search, env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_for_study(url, study, first)
        joined = [
            subprocess.Popen(
                [*nas, "worker", "--study", study, "--quiet", *common],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(4)
        ]
        codes = [p.wait(timeout=3600) for p in [first, *joined]]
    wall = time.perf_counter() - t0
    trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    text = log.read_text(errors="replace")
    per_worker = Counter(str(t.user_attrs.get(keys.WORKER, "?")).partition("#")[0] for t in done)
    return {
        "complete": len(done),
        "distinct": len({t.user_attrs.get(keys.ARCH_HASH) for t in done}),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "swept": text.count("failed by another worker's stale-trial sweep"),
        "codes": codes,
        "wall": wall,
        "per_worker": sorted(per_worker.values()),
        "minutes": max(1e-9, _span_minutes(done)),
    }


def _span_minutes(done: list) -> float:  # type: ignore[type-arg]
    start = min(t.datetime_start for t in done)
    end = max(t.datetime_complete for t in done)
    return (end - start).total_seconds() / 60


def row(i: int, busy: int, r: dict, budget: int) -> str:
    ok = r["complete"] == budget == r["distinct"] and not any(r["codes"])
    rates = [n / r["minutes"] for n in r["per_worker"]]
    return (
        f"| {i} | {busy} | {r['complete']} | {r['distinct']} | {r['failed']} | {r['swept']} "
        f"| {' '.join(str(c) for c in r['codes'])} | {r['complete'] / r['minutes']:.0f} "
        f"| {min(rates):.0f} - {max(rates):.0f} ({len(rates)} workers) | {r['wall']:.0f} "
        f"| {'held' if ok else 'BROKEN'} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--busy", default="0,3", help="busy loops beside the workers, per case")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/many_workers.md")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="nas-many-workers-"))
    os.chdir(folder)
    lines = [
        "| run | busy loops | complete | distinct | FAIL trials | swept (dropped late "
        "results) | exit codes | trials/min | per worker trials/min | wall s | guarantees |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    load0 = os.getloadavg()[0]
    with throwaway_postgres(durable=True) as server:
        for busy in (int(b) for b in args.busy.split(",")):
            for i in range(args.runs):
                url = create_database(server, f"many_b{busy}_r{i}")
                r = one_run(url, f"many-{i}", args.budget, busy, folder / f"b{busy}-r{i}.log")
                lines.append(row(i, busy, r, args.budget))
                print(lines[-1], flush=True)
    head = [
        "# Eight workers on one PostgreSQL study (issue 23 item 3)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()}, Python {platform.python_version()}; load average "
        f"{load0:.1f} before / {os.getloadavg()[0]:.1f} after (other jobs ran beside it). "
        f"`nas search --workers 4` + 4 x `nas worker --study`, tabular NAS-Bench-201 "
        f"(cifar10_valid, raspi4_latency_ms), strategy random, budget {args.budget}; with busy "
        "loops, heartbeat 1 s and grace 3 s. Worker logs: "
        f"{folder}.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(head + lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
