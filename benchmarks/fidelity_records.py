"""Write ``nas/fidelity_records.json`` from a reference set and bench_proxy's score files.

Each scorer that a search can run is recorded under its ``--evaluator`` spelling
(``supernet`` for the default training rule, ``zero-cost:NAME`` for a proxy), with its
Kendall tau, 95 % bootstrap interval, Spearman rho, the number of architectures and the
seed-to-seed tau of the set; ``--evaluator auto`` then searches with the best of them.

    .venv/bin/python benchmarks/fidelity_records.py --reference X.csv --scores a.json b.json \\
        --map "supernet (fair)=supernet"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from nas.analysis.leaderboard import bootstrap
from nas.analysis.reference import by_arch, read_meta, read_rows

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", type=Path, required=True)
    ap.add_argument("--scores", type=Path, nargs="+", required=True)
    ap.add_argument("--map", action="append", default=[], help="'bench name=evaluator'")
    ap.add_argument("--out", type=Path, default=ROOT / "nas" / "fidelity_records.json")
    args = ap.parse_args()
    from nas.supernet.proxies import PROXIES

    names = {p: f"zero-cost:{p}" for p in PROXIES}
    names.update(dict(m.split("=", 1) for m in args.map))
    meta = read_meta(args.reference)
    archs = by_arch(read_rows(args.reference))
    truth = np.array([a.mean_acc for a in archs])
    s0 = [a.accs[0] for a in archs]
    s1 = [a.accs[1] for a in archs]
    seed_tau = bootstrap(s0, s1).value
    scores: dict = {}
    for path in args.scores:
        scores.update(json.loads(path.read_text())["scores"])
    records = []
    for bench_name, evaluator in names.items():
        if bench_name not in scores:
            continue
        vec = np.array([scores[bench_name][a.arch_hash] for a in archs], float)
        tau, rho = bootstrap(vec, truth, "tau"), bootstrap(vec, truth, "rho")
        records.append(
            {
                "space": meta["space"],
                "space_version": meta["space_version"],
                "space_digest": meta["space_digest"],
                "data": meta["data"],
                "scorer": evaluator,
                "kendall_tau": round(tau.value, 4),
                "kendall_tau_ci": [round(tau.low, 4), round(tau.high, 4)],
                "spearman_rho": round(rho.value, 4),
                "architectures": len(archs),
                "seeds": min(len(a.accs) for a in archs),
                "seed_tau": round(seed_tau, 4),
                "reference": str(args.reference.resolve().relative_to(ROOT)),
                "measured": dt.date.today().isoformat(),
            }
        )
    records.sort(key=lambda r: -r["kendall_tau"])
    args.out.write_text(json.dumps(records, indent=1) + "\n")
    for r in records:
        print(f"{r['scorer']:24} tau {r['kendall_tau']:.2f} {r['kendall_tau_ci']}")


if __name__ == "__main__":
    main()
