"""``nas show STUDY``: a study's settings and Pareto front (its knee marked, the next commands
under it), or its anytime history."""

from __future__ import annotations

import argparse
import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np
from optuna.trial import TrialState
from rich.table import Table

from nas.analysis.axis import ACCURACY, AccuracyAxis
from nas.commands.common import add_storage, console, front_table, shell_lines, shown
from nas.limits import printable
from nas.storage import Store, keys
from nas.storage.studies import StudySettings

if TYPE_CHECKING:
    from nas.storage.fastread import FrontRead

# Rows of the front printed by default, fewer where the settings and commands take more room:
# a show fits in MAX_LINES lines (under 30 in an 80-column terminal, issue 24); --all prints
# every point.
ROWS = 8
MAX_LINES = 29


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
        "--all",
        action="store_true",
        help=f"print every point of the front with its architecture (default: at most {ROWS} "
        "rows, the knee's architecture under them)",
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
    store = Store(args.storage, read_only=True)
    view = _read(store, args.study)
    raw = view.attrs.get(keys.SETTINGS)
    settings = StudySettings.from_dict(raw) if isinstance(raw, dict) else None
    n = {s: view.states.get(s, 0) for s in (TrialState.COMPLETE, TrialState.RUNNING)}
    trials = (
        f"{n[TrialState.COMPLETE]} complete trials ({view.attrs.get(keys.BUDGET) or '?'} "
        f"budget, {n[TrialState.RUNNING]} running, {view.states.get(TrialState.FAIL, 0)} failed)"
    )
    # rendered first and written at the end: the front gets the lines left under MAX_LINES
    with console.capture() as head:
        console.print(f"[bold]{shown(args.study)}[/] in {shown(args.storage)}")
        if settings is not None:
            _print_settings(settings, every=args.settings)
    if args.history:
        console.file.write(head.get())
        return _history(store, args, settings, trials)
    with console.capture() as nxt:
        if view.front:
            _print_next(args.study, args.storage, settings)
    room = MAX_LINES - _lines(head.get()) - _lines(nxt.get())
    for rows in [None] if args.all else range(ROWS, 2, -1):  # as many rows as fit
        with console.capture() as body:
            _print_front(args.study, view.front, view.attrs, settings, trials, rows=rows)
        if _lines(body.get()) <= room:
            break
    console.file.write(head.get() + body.get() + nxt.get())
    return 0


def _lines(text: str) -> int:
    return text.count("\n")


def _read(store: Store, name: str) -> FrontRead:
    """The study's attributes, counts and front by plain SQL (``nas show`` at 50,000 trials
    in well under a second, where Optuna's loader took half a minute at 20,000)."""
    from nas.errors import StorageError
    from nas.storage import fastread
    from nas.storage import studies as st

    try:
        return fastread.read_front(store, name)
    except StorageError:
        st.load(store, name)  # the same refusal, listing the studies there are
        raise


def _history(
    store: Store, args: argparse.Namespace, settings: StudySettings | None, trials: str
) -> int:
    from nas.analysis import evidence
    from nas.storage import fastread

    console.print(f"  trials: {trials}")
    axis = evidence.axis_of(settings)  # "inherited acc" for a supernet study
    rows = fastread.load_trials(store, args.study, params=False)
    max_latency_ms = settings.max_latency_ms if settings else None
    console.print(history_table(rows, args, max_latency_ms, axis))
    return 0


def _print_front(
    name: str,
    front: list,
    attrs: dict,
    settings: StudySettings | None,
    trials: str,
    *,
    rows: int | None,
) -> None:
    """The front as a table (a long one summarised in ``rows`` rows: its ends, its knee, its
    anchors and evenly spaced points between) and the knee's architecture; ``rows`` None:
    every point and every architecture (``--all``)."""
    from nas.analysis import evidence
    from nas.analysis.results import knee
    from nas.storage import studies as st

    marks = evidence.anchor_roles(st.anchors_of(attrs), front)
    note = evidence.anchor_note(settings) if marks else ""
    k = knee(front)  # what nas export picks by default
    if k is not None:
        marks[k.number] = ", ".join(filter(None, (marks.get(k.number), "knee")))
    _fold(f"Pareto front: {len(front)} of {trials}", indent="")
    every = rows is None
    shown_rows = front if rows is None else [front[i] for i in pick_rows(front, marks, rows)]
    table = front_table(
        shown_rows,
        "",
        accuracy=evidence.accuracy_name(settings),
        marks=marks,
        note=note,
        test=evidence.test_accuracies(settings, shown_rows),
        archs_of=None if every or k is None else {k.number},
    )
    console.print(table)
    if len(shown_rows) < len(front):
        _fold(
            f"{len(shown_rows)} of {len(front)} front points shown (both ends, the knee, points "
            f"between); all of them with their architectures: add --all, or see the front's "
            "chart in nas report",
            indent="",
        )


def pick_rows(front: list, marks: dict[int, str], k: int) -> list[int]:
    """Indices of at most ``k`` front points to print, in front order: both ends and every
    marked point (the knee, anchors), then evenly spaced ones until there are ``k``."""
    n = len(front)
    if n <= k:
        return list(range(n))
    chosen = {0, n - 1} | {i for i, t in enumerate(front) if t.number in marks}
    steps = k
    while len(chosen) < k and steps <= n:
        for i in np.linspace(0, n - 1, steps).round().astype(int):
            if len(chosen) >= k:
                break
            chosen.add(int(i))
        steps *= 2
    return sorted(chosen)[: max(k, len(chosen))]


def _print_next(name: str, storage: str, settings: StudySettings | None) -> None:
    from nas.analysis.next_steps import next_commands

    console.print("next:", highlight=False)
    for cmd in next_commands(name, storage, settings, after="show"):
        for line in shell_lines(cmd, console.width):  # folded: still runs when pasted
            console.print(line, highlight=False, markup=False, soft_wrap=True)


def _fold(line: str, indent: str = "  ") -> None:
    text = textwrap.fill(
        printable(line),
        console.width,
        initial_indent=indent,
        subsequent_indent=indent or "  ",  # counted in the width: never re-wrapped by rich
        break_on_hyphens=False,
    )
    console.print(text, highlight=False, markup=False)


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
        _fold(line)
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
        "evaluator": _evaluator_words(settings),
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


def _evaluator_words(settings: StudySettings) -> str:
    """The evaluator, a table's path left out (``data`` names the file): ``table:/long/path
    accuracy=A latency=L`` -> ``table (accuracy=A latency=L)``."""
    kind, _, rest = settings.evaluator.partition(":")
    if kind == "table" and " accuracy=" in rest:
        return f"table ({rest.partition(' ')[2]})"
    return settings.evaluator


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
