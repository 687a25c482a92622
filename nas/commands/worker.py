"""``nas worker``: join an existing study and evaluate candidates until its budget is reached."""

from __future__ import annotations

import argparse

from nas.commands.common import add_storage, err_console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="join a study made by nas search and evaluate candidates until its budget is met",
        description=(
            "Join study NAME and evaluate candidates until the study holds its budget of "
            "completed trials. Everything else (space, data, strategy, target, supernet "
            "schedule) is taken from the options the study was created with; the data must be "
            "readable here with the same content. Any number of workers may join or leave at "
            "any time: each trial reserves a budget slot and claims its architecture in the "
            "database, so the study ends with exactly the budget of completed trials and no "
            "architecture is evaluated by two workers at once. The supernet is trained once "
            "(by the first worker that needs it) and loaded by the others. Running trials send "
            "a heartbeat every NAS_HEARTBEAT_SECONDS (15); a trial silent for NAS_GRACE_SECONDS "
            "(60) is failed and re-queued by another worker. Storage: SQLite for workers on "
            "one machine (WAL journal, write-locking transactions, 60 s busy timeout); "
            "PostgreSQL (postgresql://user:pass@host/db) for several machines."
        ),
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", metavar="NAME", help="the study to work on")
    which.add_argument(
        "--queue",
        action="store_true",
        help="take searches submitted to 'nas serve' from the database's queue, one at a "
        "time, until stopped (with PostgreSQL, from any machine; see docs/service.md)",
    )
    add_storage(p)
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary (for local pools)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.commands.search import _RichReporter, print_summary, progress_display
    from nas.reporting import SilentReporter
    from nas.search.driver import run_worker

    if args.queue:
        from nas.service.runner import work_queue

        n = work_queue(args.storage)
        if not args.quiet:
            err_console.print(f"this worker ran {n} searches")
        return 0
    if args.quiet:
        result = run_worker(args.storage, args.study, SilentReporter())
        return 130 if result.interrupted else 0
    with progress_display() as progress:
        result = run_worker(args.storage, args.study, _RichReporter(progress))
    err_console.print(f"this worker completed {result.completed_here} trials")
    return print_summary(result)
