"""``nas show STUDY``: a study's settings and Pareto front."""

from __future__ import annotations

import argparse

from nas.commands.common import add_storage, console, front_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="show a study's settings and Pareto front",
        description="Print a study's settings, progress and Pareto front.",
    )
    p.add_argument("study", help="study name (see 'nas studies')")
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.storage import Store
    from nas.storage import studies as st
    from nas.storage.results import pareto_front
    from nas.storage.summaries import summarize

    store = Store(args.storage, read_only=True)
    study = st.load(store, args.study)
    summary = summarize(study)
    settings = st.settings_of(study)
    console.print(f"[bold]{study.study_name}[/] in {args.storage}")
    if settings is not None:
        for k, v in vars(settings).items():
            if v is not None:
                console.print(f"  {k}: {v}")
    console.print(
        f"  trials: {summary.complete} complete / {summary.budget or '?'} budget, "
        f"{summary.running} running, {summary.failed} failed"
    )
    front = pareto_front(st.complete_trials(study), settings.max_latency_ms if settings else None)
    console.print(front_table(front, f"Pareto front: {len(front)} trials"))
    return 0
