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

from nas.cli import EXIT_INTERRUPTED
from nas.commands.common import (
    add_storage,
    console,
    err_console,
    front_table,
    shown,
    whole_number,
)
from nas.search import Reporter

if TYPE_CHECKING:
    from nas.search import SearchResult


def add_parser(sub: argparse._SubParsersAction) -> None:
    from nas.search import SearchOptions

    d = SearchOptions()
    p = sub.add_parser(
        "search",
        help="search a space: train the supernet, score candidates, keep the Pareto front",
        description=(
            "Train (or reuse) the weight-sharing supernet of a space, then let a strategy "
            "propose architectures until the study holds BUDGET completed evaluations. Each "
            "candidate is scored with inherited weights (validation accuracy) and its latency is "
            "measured on the target. Re-running with the same --study resumes it."
        ),
    )
    p.add_argument("--space", default=d.space, help="built-in space name or path to a .yaml file")
    p.add_argument(
        "--budget",
        type=whole_number,
        default=d.budget,
        help=f"completed candidate evaluations the study should hold (default {d.budget}); "
        "with --strategy darts: the number of search epochs (one trial per epoch)",
    )
    p.add_argument(
        "--strategy",
        default=None,
        help="random, tpe, nsga2, evolution or darts (default: nsga2 for pareto, tpe for "
        "weighted); darts (cell spaces nb201, darts) trains the supernet by differentiable "
        "search, records the derived cell after every epoch, and takes --budget as epochs",
    )
    p.add_argument(
        "--data",
        default=None,
        help="digits (default, embedded), a .npz with x and y, a CIFAR-10 python "
        "folder, or an image folder with one sub-folder per class",
    )
    add_storage(p)
    p.add_argument(
        "--study",
        default=None,
        help="study name (default: SPACE-STRATEGY-YYYYMMDD); an existing one is resumed",
    )
    p.add_argument(
        "--seed", type=int, default=d.seed, help="seed of supernet training and sampler"
    )
    p.add_argument(
        "--objective",
        choices=["pareto", "weighted"],
        default=d.objective,
        help="pareto: maximise accuracy and minimise latency (default); weighted: "
        "MnasNet score accuracy * (latency / T) ** w",
    )
    p.add_argument(
        "--latency-target-ms",
        type=float,
        default=None,
        metavar="T",
        help="latency target T of the weighted objective",
    )
    p.add_argument(
        "--latency-weight",
        type=float,
        default=d.latency_weight,
        metavar="W",
        help=f"exponent w of the weighted objective (default {d.latency_weight})",
    )
    p.add_argument(
        "--max-latency-ms",
        type=float,
        default=None,
        metavar="X",
        help="hard constraint: candidates slower than X ms are infeasible",
    )
    p.add_argument(
        "--target",
        default=d.target,
        help="where latency is measured: cpu (default), onnxruntime, cuda, remote:HOST:PORT "
        "(a 'nas device serve' agent; token in NAS_DEVICE_TOKEN)",
    )
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default=d.clock,
        help="wall: elapsed time (default); cpu: the measuring thread's CPU time, which other "
        "jobs on a shared machine do not inflate (use with --threads 1)",
    )
    p.add_argument(
        "--latency",
        choices=["measured", "predicted", "hybrid"],
        default=d.latency,
        help="measured: time every candidate end to end (default); predicted: lookup table "
        "plus fitted correction (profiled once per target); hybrid: predict all, measure only "
        "candidates that could enter the Pareto front",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the latency measurement (default: torch's default)",
    )
    p.add_argument(
        "--supernet-epochs",
        type=int,
        default=d.supernet_epochs,
        help=f"supernet training epochs (default {d.supernet_epochs})",
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="supernet training batch")
    p.add_argument(
        "--calib-batches",
        type=int,
        default=d.calib_batches,
        help="training batches for each candidate's BatchNorm recalibration",
    )
    p.add_argument(
        "--evaluator",
        default=d.evaluator,
        metavar="{supernet,table:PATH.csv,synthetic[:SECONDS]}",
        help="supernet (default): inherited weights and measured latency; table:PATH.csv: look "
        "each architecture up in a tabular benchmark keyed by its canonical string (column "
        "'arch'); no supernet is trained and --data/--target are not used; synthetic[:SECONDS]: "
        "a deterministic stand-in score after a pause, for testing the machinery",
    )
    p.add_argument(
        "--accuracy-column",
        default=None,
        metavar="C",
        help="table column searched as accuracy, in percent (default 'accuracy')",
    )
    p.add_argument(
        "--latency-column",
        default=None,
        metavar="L",
        help="table column used as latency in ms (default 'latency_ms')",
    )
    p.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where supernet checkpoints go (default: nas_checkpoints/ beside the database)",
    )
    p.add_argument(
        "--workers",
        type=whole_number,
        default=d.workers,
        metavar="K",
        help="evaluate in K local 'nas worker' processes sharing the study (default 1). "
        "SQLite handles a few local workers (WAL journal, write-locking transactions, 60 s "
        "busy timeout); use PostgreSQL for workers on several machines (see nas worker --help)",
    )
    g = p.add_argument_group("darts", "options of --strategy darts (see docs/darts.md)")
    g.add_argument(
        "--darts-order",
        type=int,
        choices=[1, 2],
        default=d.darts_order,
        help="1: first-order DARTS (default); 2: second-order (unrolled) approximation",
    )
    g.add_argument(
        "--darts-latency-weight",
        type=float,
        default=d.darts_latency_weight,
        metavar="L",
        help="hardware-aware term: adds L * expected latency (ms, from a per-operation "
        f"latency table measured on --target) to the architecture loss (default "
        f"{d.darts_latency_weight}: plain DARTS). Not --latency-weight, which is the "
        "weighted objective's exponent",
    )
    g.add_argument(
        "--darts-arch-lr",
        type=float,
        default=d.darts_arch_lr,
        help=f"Adam learning rate of the architecture weights (default {d.darts_arch_lr})",
    )
    p.set_defaults(run=run)


class _RichReporter(Reporter):
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
        best_s = "-" if best is None else f"{100 * best:.2f}%"
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
    s = result.settings
    console.print(
        front_table(
            result.front,
            f"Pareto front of {shown(result.study_name)}: {len(result.front)} of "
            f"{result.completed} "
            f"trials ({s.space}, {s.strategy}, target {s.target})",
        )
    )
    sec = result.seconds
    if sec.get("total") and not result.worker_status:
        supernet = (
            f"supernet {sec['supernet']:.0f} s ({result.supernet}), " if result.supernet else ""
        )
        console.print(
            f"time: {supernet}evaluation {sec['evaluation']:.0f} s, "
            f"latency {sec['latency']:.0f} s, total {sec['total']:.0f} s"
        )
    elif sec.get("total"):
        console.print(f"time: {len(result.worker_status)} workers, total {sec['total']:.0f} s")
    url, name = shown(result.storage), shown(result.study_name)
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
    console.print(
        "next:\n"
        f"  nas show {name} --storage {url}\n"
        f"  optuna-dashboard {url}\n"
        f"  nas export {name} --pick knee --out export/ --storage {url}",
        soft_wrap=True,
        highlight=False,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from nas.search import SearchOptions, run_search

    opts = SearchOptions(
        space=args.space,
        budget=args.budget,
        strategy=args.strategy,
        data=args.data,
        storage=args.storage,
        study=args.study,
        seed=args.seed,
        objective=args.objective,
        latency_target_ms=args.latency_target_ms,
        latency_weight=args.latency_weight,
        max_latency_ms=args.max_latency_ms,
        target=args.target,
        threads=args.threads,
        supernet_epochs=args.supernet_epochs,
        batch_size=args.batch_size,
        calib_batches=args.calib_batches,
        checkpoint_dir=args.checkpoint_dir,
        evaluator=args.evaluator,
        accuracy_column=args.accuracy_column,
        latency_column=args.latency_column,
        workers=args.workers,
        darts_order=args.darts_order,
        darts_latency_weight=args.darts_latency_weight,
        darts_arch_lr=args.darts_arch_lr,
        latency=args.latency,
        clock=args.clock,
    )
    with progress_display() as progress:
        result = run_search(opts, _RichReporter(progress))
    return print_summary(result)
