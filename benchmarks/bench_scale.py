"""Reading a 50,000-trial study (issue 23 item 2): ``nas show``, the 2-D front, the API's
trials page, front and progress, and ``nas report``.

``make`` writes the study: a real tabular search (``nas search --space nb201 --evaluator
table:nb201_hw.csv``, validation accuracy searched, Raspberry Pi latency) of ``--template``
trials, padded to ``--trials`` by ``tests/scale_study.py`` (bulk SQL, the rows that search
writes), then checked to open with Optuna and optuna-dashboard's storage loader.

``run`` times, on that file:

* ``nas show`` as a user runs it (a fresh process), against ``nas --help`` in the same run
  (the floor every command pays: Python, imports, argument parsing);
* ``front_order_2d`` and ``hypervolume_2d`` on the study's 50,000 points, against the Python
  sweep they replace;
* the API in process (FastAPI's test client, token and all): the first request of each route
  (cold: the cache is filled), then the median and p90 of ``--requests`` more;
* ``nas report`` (a fresh process) and the size of its HTML.

Writes benchmarks/results/scale.md.

    .venv/bin/python benchmarks/bench_scale.py make --trials 50000 --db /tmp/scale.db
    .venv/bin/python benchmarks/bench_scale.py run --db /tmp/scale.db
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.scale_study import check_opens, pad  # noqa: E402

STUDY = "scale"
TABLE = Path(os.environ.get("NAS_BENCH_DIR") or ROOT.parent / "shared" / "bench") / "nb201_hw.csv"


def _nas(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    cmd = [sys.executable, "-m", "nas", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)


def _wall(*args: str) -> float:
    t0 = time.perf_counter()
    _nas(*args)
    return time.perf_counter() - t0


def make(db: Path, trials: int, template: int) -> str:
    if db.exists():
        db.unlink()
    url = f"sqlite:///{db}"
    t0 = time.perf_counter()
    _nas(
        "search", "--space", "nb201", "--budget", str(template), "--study", STUDY,
        "--storage", url, "--evaluator", f"table:{TABLE}", "--accuracy-column",
        "cifar10_valid", "--latency-column", "raspi4_latency_ms",
    )  # fmt: skip
    t1 = time.perf_counter()
    rows = pad(db, STUDY, trials - template)
    t2 = time.perf_counter()
    check_opens(url, STUDY, trials)
    t3 = time.perf_counter()
    return (
        f"- study: a real table search of {template} trials ({t1 - t0:.1f} s), padded to "
        f"{trials} trials: {rows} rows in {t2 - t1:.1f} s; {db.stat().st_size / 1e6:.0f} MB; "
        f"opened by Optuna and optuna-dashboard's loader in {t3 - t2:.1f} s"
    )


def _median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} s (n={len(xs)}, min {min(xs):.3f}, max {max(xs):.3f})"


def bench_show(url: str, runs: int) -> list[str]:
    show, floor = [], []
    for _ in range(runs):  # alternating, so that load drifts hit both alike
        floor.append(_wall("--help"))
        show.append(_wall("show", STUDY, "--storage", url))
    out = _nas("show", STUDY, "--storage", url).stdout.splitlines()
    above = statistics.median(show) - statistics.median(floor)
    return [
        f"- `nas show` (fresh process): {_median(show)}; `nas --help` in the same run "
        f"{_median(floor)}; show minus the floor {above:.3f} s",
        f"- `nas show` output at COLUMNS=80: {len(out)} lines, widest {max(map(len, out))}",
    ]


def bench_front(url: str, reps: int) -> list[str]:
    import numpy as np

    from nas import pareto
    from nas.storage import Store
    from nas.storage.fastread import load_trials

    trials = load_trials(Store(url, read_only=True), STUDY, params=False)
    acc = np.array([t.user_attrs["accuracy"] for t in trials])
    lat = np.array([t.user_attrs["latency_ms"] for t in trials])

    def loop_sweep() -> np.ndarray:  # the Python sweep this release replaced
        mask = np.zeros(len(acc), dtype=bool)
        best, best_lat = -np.inf, np.nan
        for i in np.lexsort((-acc, lat)):
            if acc[i] > best:
                mask[i], best, best_lat = True, acc[i], lat[i]
            elif acc[i] == best and lat[i] == best_lat:
                mask[i] = True
        return mask

    assert (loop_sweep() == pareto.front_mask_2d(acc, lat)).all()
    times: dict[str, list[float]] = {"new": [], "old": [], "hv": []}
    for _ in range(reps):
        for name, fn in (
            ("new", lambda: pareto.front_order_2d(acc, lat)),
            ("old", loop_sweep),
            ("hv", lambda: pareto.hypervolume_2d(acc, lat, float(lat.max()) * 1.1)),
        ):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    new, old = statistics.median(times["new"]), statistics.median(times["old"])
    return [
        f"- 2-D front of {len(acc)} points (`front_order_2d`): {1e3 * new:.1f} ms median of "
        f"{reps}; the Python-loop sweep it replaces {1e3 * old:.1f} ms ({old / new:.0f}x); "
        f"hypervolume {1e3 * statistics.median(times['hv']):.1f} ms; front size "
        f"{int(pareto.front_mask_2d(acc, lat).sum())}"
    ]


def bench_api(db: Path, requests: int) -> list[str]:
    from fastapi.testclient import TestClient

    from nas.service import queue as q
    from nas.service.app import create_app
    from nas.service.config import ServiceConfig
    from nas.storage import Store

    url = f"sqlite:///{db}"
    store = Store(url)
    search = q.submit(store, {"space": "nb201"}, study_name=STUDY, budget=50_000)
    data = Path(tempfile.mkdtemp())
    app = create_app(ServiceConfig(storage=url, token="t", data_dir=data))
    client = TestClient(app)
    auth = {"Authorization": "Bearer t"}
    out = []
    for path in ("trials?offset=49900&limit=100", "front", "progress"):
        full = f"/api/searches/{search.id}/{path}"
        times = []
        for _ in range(requests + 1):
            t0 = time.perf_counter()
            r = client.get(full, headers=auth)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        warm = sorted(times[1:])
        out.append(
            f"- `GET /{path}`: first (cold) {times[0]:.2f} s; then median "
            f"{1e3 * statistics.median(warm):.1f} ms, p90 {1e3 * warm[int(0.9 * len(warm))]:.1f} "
            f"ms (n={len(warm)}); {len(r.content) / 1e3:.0f} kB"
        )
    return out


def bench_dashboard(url: str) -> list[str]:
    """The dashboard's study view on the server, cold (bench_dashboard.py's measure): the
    browser's part is not in this number."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_dashboard import server_side

    r = server_side(url, STUDY)
    return [
        f"- dashboard study view, server side, cold: load {r['load_s']:.1f} s, charts "
        f"{r['charts_s']:.1f} s, payload {r['payload_mb']:.1f} MB; importance (its own "
        f"callback, after) {r['importance_s']:.1f} s"
    ]


def bench_report(url: str) -> list[str]:
    out = Path(tempfile.mkdtemp()) / "report.html"
    t = _wall("report", STUDY, "-o", str(out), "--storage", url)
    return [f"- `nas report` (fresh process): {t:.1f} s; HTML {out.stat().st_size / 1e6:.1f} MB"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--trials", type=int, default=50_000)
    m.add_argument("--template", type=int, default=100)
    m.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "scale.db")
    r = sub.add_parser("run")
    r.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "scale.db")
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--requests", type=int, default=50)
    r.add_argument("--skip-report", action="store_true")
    args = ap.parse_args()
    if args.cmd == "make":
        print(make(args.db, args.trials, args.template))
        return
    url = f"sqlite:///{args.db}"
    cpu = platform.processor() or platform.machine()
    lines = [f"- load before: {os.getloadavg()[0]:.2f} (1-min); {cpu}, {os.cpu_count()} CPUs"]
    lines += bench_show(url, args.runs)
    lines += bench_front(url, args.runs)
    lines += bench_api(args.db, args.requests)
    if not args.skip_report:
        lines += bench_report(url)
        lines += bench_dashboard(url)
    lines.append(f"- load after: {os.getloadavg()[0]:.2f} (1-min)")
    text = "\n".join(lines)
    print(text)
    (ROOT / "benchmarks" / "results" / "scale.md").write_text(
        "# Scale: reading a 50,000-trial study (bench_scale.py)\n\n" + text + "\n"
    )


if __name__ == "__main__":
    main()
