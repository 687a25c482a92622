"""``nas show STUDY``: a study's settings and Pareto front (its knee marked, the next commands
under it), or its anytime history."""

from __future__ import annotations

import argparse
import math
import textwrap

from rich.table import Table

from nas.analysis.axis import ACCURACY, AccuracyAxis
from nas.commands.common import add_storage, console, front_table, shell_lines, shown
from nas.limits import printable
from nas.storage.studies import StudySettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="show a study's settings and Pareto front",
        description="Print a study's settings, progress and Pareto front.",
    )
    p.add_argument("study", help="study name (see 'nas studies')")
    p.add_argument(
        "--history",
        action="store_true",
        help="instead of the front, print best-so-far accuracy and the hypervolume of the "
        "front after each completed trial (failed trials are counted, not scored)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=None,
        metavar="N",
        help="with --history: a row every N completed trials and the last (default: every "
        "trial up to 50, else about 20 rows)",
    )
    p.add_argument(
        "--ref-ms",
        type=float,
        default=None,
        metavar="MS",
        help="with --history: latency of the hypervolume reference point (default: the "
        "study's --max-latency-ms, else 1.1x its slowest completed trial); give the same value "
        "to compare studies",
    )
    p.add_argument(
        "--settings",
        action="store_true",
        help="print every stored setting and option of the study (default: those that apply "
        "to its strategy, objective and evaluator, where they differ from the defaults)",
    )
    add_storage(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.analysis import evidence
    from nas.analysis.next_steps import next_commands
    from nas.analysis.results import knee, pareto_front
    from nas.analysis.summaries import summarize
    from nas.storage import Store
    from nas.storage import studies as st

    store = Store(args.storage, read_only=True)
    study = st.load(store, args.study)
    summary = summarize(study)
    settings = st.settings_of(study)
    console.print(f"[bold]{shown(study.study_name)}[/] in {shown(args.storage)}")
    if settings is not None:
        _print_settings(settings, every=args.settings)
    trials = (
        f"{summary.complete} complete trials ({summary.budget or '?'} budget, "
        f"{summary.running} running, {summary.failed} failed)"
    )
    max_latency_ms = settings.max_latency_ms if settings else None
    name = evidence.accuracy_name(settings)
    if args.history:
        console.print(f"  trials: {trials}")
        axis = evidence.axis_of(settings)  # "inherited acc" for a supernet study
        console.print(history_table(study.get_trials(deepcopy=False), args, max_latency_ms, axis))
        return 0
    front = pareto_front(st.complete_trials(study), max_latency_ms)
    marks = evidence.anchor_roles(st.anchors_of(study.user_attrs), front)
    note = evidence.anchor_note(settings) if marks else ""
    if (k := knee(front)) is not None:  # what nas export picks by default
        marks[k.number] = ", ".join(filter(None, (marks.get(k.number), "knee")))
    table = front_table(
        front,
        f"Pareto front: {len(front)} of {trials}",
        accuracy=name,
        marks=marks,
        note=note,
        test=evidence.test_accuracies(settings, front),
    )
    console.print(table)
    if front:
        cmds = next_commands(study.study_name, args.storage, settings, after="show")
        console.print("next:", highlight=False)
        for cmd in cmds:  # folded so that they still run when pasted into a shell
            for line in shell_lines(cmd, console.width):
                console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0


def _print_settings(settings: StudySettings, *, every: bool) -> None:
    """What the accuracy is and how far to trust it, before any number (issues 20, 24); the
    settings in one paragraph, or ``every`` stored value."""
    from nas.analysis import evidence

    said = (
        *([] if every else settings_summary(settings)),
        settings.input_line(),
        evidence.accuracy_note(settings),
        *evidence.fidelity_lines(settings),
    )
    for line in filter(None, said):  # folded under their own indent, file or not
        text = textwrap.fill(
            printable(line),
            console.width,
            initial_indent="  ",
            subsequent_indent="  ",  # counted in the width: no line re-wrapped past the edge
            break_on_hyphens=False,
        )
        console.print(text, highlight=False, markup=False)
    if every:
        done = {"fidelity", "scoring_input", "latency_input"}  # the lines above say them
        rest = {k: v for k, v in vars(settings).items() if k not in done}
        for line in settings_lines(rest):
            console.print(printable(line), highlight=False, markup=False)  # stored values


def settings_summary(settings: StudySettings) -> list[str]:
    """The study's settings in one paragraph: what was searched, how, and the options that apply
    to its strategy, objective and evaluator (a table study trains and times nothing), where
    they differ from the defaults (``--settings`` prints every stored value)."""
    from nas.analysis.evidence import kind_of
    from nas.search.options import SearchOptions, applies, flag

    weighted = settings.objective == "weighted"
    said = {
        "space": settings.space,
        "data": settings.data,
        "strategy": settings.strategy,
        "objective": settings.objective,
        "latency_target_ms": settings.latency_target_ms if weighted else None,
        "latency_weight": settings.latency_weight if weighted else None,
        "max_latency_ms": settings.max_latency_ms,
        "target": settings.target,
        "evaluator": settings.evaluator,
        "seed": settings.seed,
    }
    first = ", ".join(f"{k} {v}" for k, v in said.items() if v not in (None, ""))
    network = kind_of(settings) not in ("table", "synthetic")
    trains = kind_of(settings) in ("supernet", "darts")
    fields = SearchOptions.model_fields
    options = [
        f"{flag(k)} {v}"
        for k, v in settings.plan().items()
        if k in fields
        and k not in said
        and k not in ("storage", "study", "latency_input")
        and v is not None
        and v != fields[k].default
        and applies(
            k,
            strategy=settings.strategy,
            objective=settings.objective,
            network=network,
            trains=trains,
        )
    ]
    if not options:
        return [first]
    return [f"{first}; options: {' '.join(options)} (others default)"]


def settings_lines(settings: dict, indent: str = "  ") -> list[str]:
    """``key: value`` lines; a nested mapping (``options``) as an indented block of its own."""
    import json

    lines = []
    for k, v in settings.items():
        if v is None:
            continue
        if isinstance(v, dict):
            lines.append(f"{indent}{k}:" + ("" if v else " (none)"))
            lines += settings_lines(v, indent + "  ")
        elif isinstance(v, list | tuple):
            lines.append(f"{indent}{k}: {json.dumps(list(v), default=str)}")
        else:
            lines.append(f"{indent}{k}: {v}")
    return lines


def default_every(n: int) -> int:
    """Every trial up to 50, else a round step giving about 20 rows."""
    if n <= 50:
        return 1
    step = n / 20
    candidates = [m * 10**e for e in range(9) for m in (1, 2, 5)]
    return next(c for c in candidates if c >= step)


def history_table(
    trials: list,
    args: argparse.Namespace,
    max_latency_ms: float | None,
    axis: AccuracyAxis = ACCURACY,
) -> Table:
    """Anytime results, one row per checkpoint (see :func:`nas.analysis.anytime.history`);
    ``axis`` names the accuracy axis (``inherited acc`` for a supernet study, a proxy's
    score for a zero-cost one)."""
    from optuna.trial import TrialState

    from nas.analysis.anytime import default_reference, history
    from nas.errors import OptionError

    if args.every is not None and args.every < 1:
        raise OptionError(f"--every must be at least 1, got {args.every}")
    if args.ref_ms is not None and not args.ref_ms > 0:
        raise OptionError(f"--ref-ms must be > 0, got {args.ref_ms}")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ref = args.ref_ms or default_reference(complete, max_latency_ms)
    points = history(trials, ref_ms=ref, max_latency_ms=max_latency_ms)
    failed = sorted(t.number for t in trials if t.state == TrialState.FAIL)
    every = args.every or default_every(len(points))
    table = Table(
        title=f"Anytime results: {len(points)} completed, {len(failed)} failed trials; "
        f"hypervolume of ({axis.name}, latency) up to the reference (0, {ref:.4g} ms)",
        title_justify="left",
    )
    best_head = f"best {axis.name}" + (" %" if axis.percent else "")
    for col in ("completed", "trial", "failed so far", best_head, "hypervolume"):
        table.add_column(col, justify="right", no_wrap=True)
    for p in points:
        if p.completed % every and p.completed != len(points):
            continue
        n_failed = sum(1 for f in failed if f < p.trial)
        best = "-" if math.isnan(p.best_accuracy) else axis.fmt(p.best_accuracy)
        table.add_row(str(p.completed), str(p.trial), str(n_failed), best, f"{p.hypervolume:.4g}")
    return table
