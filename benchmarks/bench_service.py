"""``nas serve`` under load: progress latency with 50 clients, overhead per trial.

1. Starts ``nas serve --slots 2`` on a free loopback port (SQLite in a temporary folder), submits
   two long table searches (nb201, random strategy) and, while both run, lets 50 client threads
   each ask ``GET /api/searches/{id}/progress`` ``--requests`` times; reports the median, p90,
   p99 and max latency of those requests. The two searches are cancelled afterwards.
2. Overhead per trial: the same table search (``--budget`` trials) run by plain ``nas search``
   and by the service (submit -> done, one slot, nothing else running); wall time per trial for
   both, and the difference.

Only loopback traffic; every loop is bounded. Record the machine's load next to the numbers.

    .venv/bin/python benchmarks/bench_service.py [--table PATH.csv] [--requests 20]
        [--interval 0,1] [--budget 200]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

from nas.client import Client

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(NAS_TOKEN=TOKEN, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


def start_server(tmp: Path, table: Path, slots: int) -> tuple[subprocess.Popen[str], Client]:
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    shutil.copy(table, data / "nb201.csv")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas", "serve", "--port", "0", "--slots", str(slots),
         "--storage", f"sqlite:///{tmp / 'studies.db'}", "--data-dir", str(data)],
        stdout=subprocess.PIPE, text=True, env=_env(), cwd=tmp,
    )  # fmt: skip
    assert proc.stdout is not None
    m = re.search(r"(http://127\.0\.0\.1:\d+)", proc.stdout.readline())
    assert m, "server did not start"
    return proc, Client(m.group(1), TOKEN, timeout=120)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def progress_latency(
    table: Path, clients: int, requests: int, interval: float = 0.0
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="nas-bench-service-") as tmp:
        proc, c = start_server(Path(tmp), table, slots=2)
        try:
            ids = [
                c.submit(space="nb201", evaluator="table:nb201.csv", strategy="random",
                         budget=5000, seed=i)["id"]
                for i in range(2)
            ]  # fmt: skip
            deadline = time.monotonic() + 300
            while not all(c.progress(i)["complete"] >= 5 for i in ids):
                assert time.monotonic() < deadline, "searches did not start"
                time.sleep(0.5)
            lat: list[float] = []
            lock = threading.Lock()

            def client(k: int) -> None:
                mine = Client(c.url, TOKEN, timeout=120)
                time.sleep(interval * k / clients)  # pollers spread over the interval
                for j in range(requests):
                    if j:
                        time.sleep(interval)  # a poller waits; 0: back to back (a stress test)
                    t0 = time.perf_counter()
                    mine.progress(ids[(k + j) % 2])
                    dt = time.perf_counter() - t0
                    with lock:
                        lat.append(dt)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            running = [c.progress(i)["state"] for i in ids]
            done = [c.progress(i)["complete"] for i in ids]
            for i in ids:
                c.cancel(i)
        finally:
            stop(proc)
    ms = [1000 * x for x in lat]
    return {
        "requests": len(ms), "wall_s": wall, "rps": len(ms) / wall, "median_ms": median(ms),
        "p90_ms": pct(ms, 0.9), "p99_ms": pct(ms, 0.99), "max_ms": max(ms),
        "running": float(running.count("running")), "trials_meanwhile": float(sum(done)),
    }  # fmt: skip


def overhead(table: Path, budget: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="nas-bench-plain-") as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nas", "search", "--space", "nb201", "--strategy", "random",
             "--evaluator", f"table:{table}", "--budget", str(budget), "--study", "plain",
             "--storage", f"sqlite:///{Path(tmp) / 'studies.db'}"],
            check=True, env=_env(), cwd=tmp, capture_output=True,
        )  # fmt: skip
        plain = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="nas-bench-svc-") as tmp:
        proc, c = start_server(Path(tmp), table, slots=1)
        try:
            time.sleep(5)  # let the worker process start before the clock does
            t0 = time.perf_counter()
            s = c.submit(space="nb201", evaluator="table:nb201.csv", strategy="random",
                         budget=budget, study="svc")  # fmt: skip
            p = c.wait(s["id"], timeout=1800, poll=0.2)
            service = time.perf_counter() - t0
            assert p["state"] == "done" and p["complete"] == budget, p
        finally:
            stop(proc)
    return {
        "plain_s": plain, "service_s": service, "plain_ms_per_trial": 1000 * plain / budget,
        "service_ms_per_trial": 1000 * service / budget,
        "overhead_ms_per_trial": 1000 * (service - plain) / budget,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--table", default=str(ROOT.parent / "shared" / "bench" / "nb201_synthetic.csv")
    )
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument(
        "--interval",
        default="0,1",
        help="seconds each client waits between its requests, one run per value (0: back to "
        "back, a stress test; 1: a dashboard polling once a second)",
    )
    ap.add_argument("--budget", type=int, default=200)
    args = ap.parse_args()
    table = Path(args.table)
    print(f"uptime before: {os.popen('uptime').read().strip()}")
    for interval in (float(v) for v in args.interval.split(",")):
        lat = progress_latency(table, args.clients, args.requests, interval)
        print(
            f"progress endpoint, {args.clients} clients x {args.requests} requests, "
            f"{interval:g} s between a client's requests, while {lat['running']:.0f} searches "
            f"ran ({lat['trials_meanwhile']:.0f} trials done by the end): {lat['requests']} "
            f"requests in {lat['wall_s']:.1f} s ({lat['rps']:.0f}/s); latency median "
            f"{lat['median_ms']:.0f} ms, p90 {lat['p90_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, "
            f"max {lat['max_ms']:.0f} ms"
        )
    print(f"uptime: {os.popen('uptime').read().strip()}")
    o = overhead(table, args.budget)
    print(
        f"{args.budget} table trials: nas search {o['plain_s']:.1f} s "
        f"({o['plain_ms_per_trial']:.0f} ms/trial, process start included), service "
        f"{o['service_s']:.1f} s submit->done ({o['service_ms_per_trial']:.0f} ms/trial); "
        f"difference {o['overhead_ms_per_trial']:+.0f} ms/trial"
    )
    print(f"uptime after: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
