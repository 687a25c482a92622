"""``nas search``: run or resume a search and print its Pareto front."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nas.commands.common import console, err_console, front_table, shown
from nas.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from nas.search.driver import SearchResult


def add_parser(sub: argparse._SubParsersAction) -> None:
    from nas.commands.arguments import add_arguments

    p = sub.add_parser(
        "search",
        help="search a space: train the supernet, score candidates, keep the Pareto front",
        description=(
            "Train (or reuse) the weight-sharing supernet of a space, then let a strategy "
            "propose architectures until the study holds BUDGET completed evaluations. Each "
            "candidate is scored with inherited weights (validation accuracy) and its latency is "
            "measured on the target. Re-running with the same --study resumes it. Options a "
            "strategy does not use (--supernet-epochs with darts, --darts-* with the others) "
            "are refused."
        ),
    )
    add_arguments(p)  # every option of nas.search.options.SearchOptions
    p.set_defaults(run=run)


class _RichReporter:
    """Progress bars for supernet training and the search.

    The live display starts with the first bar, so a run that stops on bad input before any
    work prints its one error line and nothing else."""

    def __init__(self, progress: Progress) -> None:
        self.bar = progress
        self.train_task: TaskID | None = None
        self.search_task: TaskID | None = None
        self.started = time.perf_counter()

    def message(self, text: str) -> None:
        self.bar.console.print(text)

    def training_step(self, step: int, total: int, loss: float) -> None:
        if self.train_task is None:
            self.bar.start()
            self.train_task = self.bar.add_task("supernet", total=total, info="")
        self.bar.update(self.train_task, completed=step, info=f"loss {loss:.3f}")

    def search_started(self, study: str, done: int, budget: int) -> None:
        self.bar.console.print(f"study [bold]{shown(study)}[/]: {done}/{budget} trials complete")
        self.bar.start()
        self.search_task = self.bar.add_task("search", total=budget, completed=done, info="")

    def progress(self, done: int, budget: int) -> None:
        if self.search_task is not None:
            self.bar.update(self.search_task, completed=done)

    def trial_done(self, done, budget, trial, best, front) -> None:  # type: ignore[no-untyped-def]
        assert self.search_task is not None
        from nas.analysis.axis import axis_of_trial

        axis = axis_of_trial(trial.user_attrs)
        best_s = axis.fmt(best) + ("%" if axis.percent and best is not None else "")
        self.bar.update(self.search_task, completed=done, info=f"best {best_s}  front {front}")


@contextmanager
def progress_display() -> Iterator[Progress]:
    """A progress display the reporter starts with its first bar, stopped on the way out."""
    progress = make_progress()
    try:
        yield progress
    finally:
        if progress.live.is_started:  # stop() of a display never shown prints a blank line
            progress.stop()


def make_progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def print_summary(result: SearchResult) -> int:
    """The Pareto front so far, timings and next steps; the exit status of the run."""
    from nas.analysis.results import knee

    s = result.settings
    k = knee(result.front)  # what the export hint below picks
    console.print(
        front_table(
            result.front,
            f"Pareto front of {shown(result.study_name)}: {len(result.front)} of "
            f"{result.completed} "
            f"trials ({s.space}, {s.strategy}, target {s.target})",
            marks={k.number: "knee"} if k is not None else None,
        )
    )
    sec = result.seconds
    if sec.get("total") and not result.worker_status:
        if result.supernet == "untrained":  # zero-cost: the set-up scored a reference sample
            supernet = f"proxy set-up {sec['supernet']:.0f} s (nothing trained), "
        elif result.supernet:
            supernet = f"supernet {sec['supernet']:.0f} s ({result.supernet}), "
        else:
            supernet = ""
        console.print(
            f"time: {supernet}evaluation {sec['evaluation']:.0f} s, "
            f"latency {sec['latency']:.0f} s, total {sec['total']:.0f} s"
        )
    elif sec.get("total"):
        console.print(f"time: {len(result.worker_status)} workers, total {sec['total']:.0f} s")
    if result.interrupted:
        err_console.print(
            f"nas: interrupted with {result.completed}/{result.budget} trials complete; "
            "the same command resumes the search"
        )
        return EXIT_INTERRUPTED
    failed = [c for c in result.worker_status if c != 0]
    if EXIT_INTERRUPTED in failed:
        err_console.print("nas: workers were interrupted; the same command resumes the search")
        return EXIT_INTERRUPTED
    if failed:
        err_console.print(
            f"nas: {len(failed)} of {len(result.worker_status)} workers failed "
            f"(exit status {', '.join(map(str, failed))}); {result.completed}/{result.budget} "
            "trials complete"
        )
        return 1
    from nas.analysis.next_steps import next_commands

    cmds = next_commands(result.study_name, result.storage, s, after="search")
    console.print(  # only commands that work for this study (a table holds nothing to export)
        "\n".join(["next:", *(f"  {c}" for c in cmds)]),
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from nas.commands.arguments import from_args
    from nas.search.driver import run_search

    opts = from_args(args)
    with progress_display() as progress:
        result = run_search(opts, _RichReporter(progress))
    return print_summary(result)
