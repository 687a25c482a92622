"""``nas hardware profile|validate``: build the latency lookup table and check its predictor."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from nas.commands.common import add_storage, console, err_console, numeric_column, shown
from nas.search.options import DEFAULT_TARGET, whole_number

if TYPE_CHECKING:
    from rich.table import Table

    from nas.hardware import Target
    from nas.hardware.lut import LatencyPredictor
    from nas.spaces import Space
    from nas.storage.latency_lut import Validation

DEFAULT_HOLDOUT, MIN_HOLDOUT = 10, 4  # nas.hardware.lut's (a test keeps them equal; no torch here)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="mobile", help="built-in space name or .yaml path")
    p.add_argument(
        "--target",
        default=DEFAULT_TARGET,
        help=f"onnxruntime, cpu, cuda or remote:HOST:PORT (default {DEFAULT_TARGET})",
    )
    p.add_argument("--threads", type=int, default=None, help="threads of the local targets")
    p.add_argument(
        "--classes",
        type=whole_number,
        default=10,
        help="classifier outputs of the measured networks (default 10, as the digits data)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled architectures")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall (default) or cpu: the measuring thread's CPU time, for shared machines",
    )
    add_storage(p)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hardware",
        help="latency lookup tables: profile a target, validate the predictor",
        description="Latency lookup table (FBNet / Once-for-All) and its predictor "
        "(--storage applies to both actions).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    _add_profile(actions)
    _add_validate(actions)


def _add_profile(actions: argparse._SubParsersAction) -> None:
    prof = actions.add_parser(
        "profile",
        help="measure every layer option of a space and fit the predictor",
        description=(
            "Measure every block option at every position and input shape the space allows "
            "(stem, blocks, head) on the target, store the table, then fit the correction "
            "a * table_sum + b on --fit-samples end-to-end measurements and validate it on "
            "--holdout others; a fit that fails its validation is refused (exit status 2) "
            "and nothing is stored. Entries already stored for this target are kept "
            "(--reprofile measures them again)."
        ),
    )
    _common(prof)
    prof.add_argument(
        "--fit-samples",
        type=whole_number,
        default=10,
        help="end-to-end measurements for the correction (default 10)",
    )
    prof.add_argument(
        "--holdout",
        type=whole_number,
        default=DEFAULT_HOLDOUT,
        help=f"other networks measured to validate the fit before it is stored (default "
        f"{DEFAULT_HOLDOUT}, at least {MIN_HOLDOUT}; docs/hardware.md lists the thresholds)",
    )
    prof.add_argument(
        "--reprofile",
        action="store_true",
        help="measure the whole table again; it replaces the stored table and fits of this "
        "space on this target if its fit passes (after a refusal, or a busy machine)",
    )
    prof.set_defaults(run=run_profile)


def _add_validate(actions: argparse._SubParsersAction) -> None:
    val = actions.add_parser(
        "validate",
        help="measure K random architectures end to end and score the predictor",
        description=(
            "Measure K random architectures end to end (cached measurements are reused) and "
            "compare with the predictor: Kendall's tau, mean absolute percentage error, share "
            "within +-10 %. Profiles the table first if it is missing. --passes P measures "
            "them P times, interleaved, and also reports how well the passes agree."
        ),
    )
    _common(val)
    val.add_argument(
        "--samples", type=whole_number, default=20, help="architectures to measure (default 20)"
    )
    val.add_argument(
        "--passes",
        type=whole_number,
        default=1,
        help="measure the architectures in P interleaved passes and compare with the median "
        "per architecture (default 1; the first pass goes through the latency cache). With "
        "P >= 2 it also prints how well the passes agree: the best tau any predictor can reach "
        "on this machine now",
    )
    val.set_defaults(run=run_validate)


def _setup(args: argparse.Namespace, *, read_only: bool = False):  # type: ignore[no-untyped-def]
    from nas.errors import OptionError
    from nas.hardware import create_target
    from nas.spaces import load_space
    from nas.storage import Store

    if args.classes < 1:
        raise OptionError(f"--classes must be >= 1, got {args.classes}")
    space = load_space(args.space)
    from nas.hardware.lut import all_specs

    all_specs(space, args.classes)  # refuses spaces without a table layout before writing
    from nas.search.driver import timing_options

    target = create_target(args.target, threads=args.threads, **timing_options(args.clock))
    target.fingerprint_id()
    return space, target, Store(args.storage, read_only=read_only)


def run_profile(args: argparse.Namespace) -> int:
    from nas.errors import OptionError
    from nas.hardware.lut import MIN_HOLDOUT, fit_predictor

    if args.fit_samples < 1:
        raise OptionError(f"--fit-samples must be >= 1, got {args.fit_samples}")
    if args.holdout < MIN_HOLDOUT:
        raise OptionError(f"--holdout must be >= {MIN_HOLDOUT}, got {args.holdout}")
    space, target, store = _setup(args)
    t0 = time.perf_counter()
    t_table = 0.0

    def entry(i: int, n: int, key: str, ms: float) -> None:
        nonlocal t_table
        t_table = time.perf_counter() - t0
        err_console.print(f"[{i}/{n}] {key}: {ms:.3f} ms", highlight=False)

    pred = fit_predictor(
        store,
        space,
        target,
        args.classes,
        samples=args.fit_samples,
        holdout=args.holdout,
        seed=args.seed,
        on_entry=entry,
        on_sample=lambda i, n: err_console.print(f"end-to-end {i}/{n}"),
        fresh=args.reprofile,
    )
    console.print(
        f"lookup table of {shown(space.name)} on {target.name} ({target.fingerprint_id()}): "
        f"{len(pred.table)} entries, {t_table:.1f} s; total {time.perf_counter() - t0:.1f} s",
        highlight=False,
    )
    print_fit(pred.correction, pred.validation)
    return 0


def _stored_predictor(args: argparse.Namespace) -> tuple[Space, Target, LatencyPredictor]:
    """``(space, target, predictor)`` of ``nas hardware validate``: the stored predictor, read
    before anything is written; a database without one is one line, not a profile."""
    from sqlalchemy.exc import SQLAlchemyError

    from nas.errors import StorageError
    from nas.hardware.lut import load_predictor

    space, target, reader = _setup(args, read_only=True)
    try:
        pred = load_predictor(
            reader,
            space,
            target,
            args.classes,
            require_validation=False,  # it shows what a search would refuse
            profile=False,  # it checks a stored predictor; nas hardware profile makes one
        )
    except SQLAlchemyError:  # a database nas never wrote a table to
        raise StorageError(
            f"{args.storage} holds no latency lookup tables: make one with nas hardware "
            f"profile --space {shown(space.name)} --target {shown(target.name)}"
        ) from None
    return space, target, pred


def run_validate(args: argparse.Namespace) -> int:
    from nas.errors import OptionError
    from nas.hardware.lut import check_predictor
    from nas.storage import Store
    from nas.storage.latency_cache import LatencyCache

    if args.samples < 2:
        raise OptionError(f"--samples must be >= 2, got {args.samples}")
    if args.passes < 1:
        raise OptionError(f"--passes must be >= 1, got {args.passes}")
    space, target, pred = _stored_predictor(args)
    store = Store(args.storage)  # the check's measurements go to the latency cache
    print_fit(pred.correction, pred.validation)

    def shown_pair(p: int, i: int, n: int, predicted: float, measured: float) -> None:
        err_console.print(
            f"[{f'pass {p}, ' if args.passes > 1 else ''}{i}/{n}] predicted "
            f"{predicted:.2f} ms, measured {measured:.2f} ms",
            markup=False,  # "[pass 2, ..." would read as a rich style tag
            highlight=False,
        )

    c = check_predictor(
        pred,
        target,
        LatencyCache(store),
        samples=args.samples,
        passes=args.passes,
        seed=args.seed,
        on_measure=shown_pair,
    )
    console.print(
        f"predictor of {shown(space.name)} on {target.name} ({target.fingerprint_id()}) "
        f"checked on {c.quality.n} other architectures:",
        highlight=False,
    )
    console.print(check_table(pred.validation, c))
    failed = c.validation.failures()
    if failed:
        console.print(
            f"a new fit with these figures would be refused: {'; '.join(failed)}",
            highlight=False,
            markup=False,
        )
    if c.agreement is not None:
        console.print(
            f"measurements: {args.passes} passes agree to Kendall tau "
            f"{c.agreement:.3f} (median over pairs of passes)",
            highlight=False,
        )
    return 0


# ---- the fit and its validation as tables (80 columns, and whole in a log file) -----------
def _figures(v: Validation | None) -> list[str]:
    """held-out networks, Kendall tau, median and worst error of ``v`` ("-" without one)."""
    if v is None:
        return ["-"] * 4
    return [
        str(v.n),
        f"{v.kendall_tau:.3f}",
        f"{100 * v.median_rel_error:.1f}",
        f"{100 * v.max_rel_error:.1f}",
    ]


def _thresholds() -> list[str]:
    from nas.storage.latency_lut import (
        MAX_MEDIAN_REL_ERROR,
        MAX_REL_ERROR,
        MIN_HOLDOUT,
        MIN_KENDALL_TAU,
    )

    return [
        f">= {MIN_HOLDOUT}",
        f">= {MIN_KENDALL_TAU}",
        f"<= {100 * MAX_MEDIAN_REL_ERROR:.0f}",
        f"<= {100 * MAX_REL_ERROR:.0f}",
    ]


FIGURES = ("held-out networks", "Kendall tau", "median error %", "worst error %")


def _table(title: str, columns: dict[str, list[str]]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    first, *rest = columns
    table.add_column(first, no_wrap=True)
    for h in rest:
        if h == "result":  # words, read left to right
            table.add_column(h, no_wrap=True)
        else:
            numeric_column(table, h, columns[h])
    for row in zip(*columns.values(), strict=True):
        table.add_row(*row)
    return table


def fit_table(v: Validation | None) -> Table:
    """A stored fit's validation figures against the thresholds a search applies."""
    ok = [] if v is None else [passes for passes, _ in v.checks()]
    return _table(
        "validation on held-out networks",
        {
            "figure": list(FIGURES),
            "value": _figures(v),
            "needs": _thresholds(),
            "result": ["-"] * 4 if v is None else ["ok" if x else "FAILS" for x in ok],
        },
    )


def print_fit(corr, v: Validation | None) -> None:  # type: ignore[no-untyped-def]
    """The correction, its validation table and the verdict a search would reach."""
    console.print(
        f"latency predictor: {corr.a:.4f} * table sum {corr.b:+.3f} ms, fitted on {corr.n} "
        "networks measured end to end",
        highlight=False,
    )
    if v is None:
        console.print(
            "not validated (fitted before fits were validated): searches refuse it; run "
            "`nas hardware profile --reprofile`",
            highlight=False,
            markup=False,
        )
        return
    when = v.validated_at + ("" if v.load is None else f", machine load {v.load:.1f}")
    console.print(fit_table(v))
    failed = v.failures()
    verdict = (
        "passed: searches use it"
        if not failed
        else f"refused by searches: {'; '.join(failed)}; run `nas hardware profile --reprofile` "
        "on a quiet machine"
    )
    console.print(f"validated {when}; {verdict}", highlight=False, markup=False)


def check_table(stored: Validation | None, c) -> Table:  # type: ignore[no-untyped-def]
    """The stored fit's held-out figures next to this check's, and the thresholds."""
    q, now = c.quality, c.validation
    rows = [*FIGURES, "MAPE %", "within +-10 %", "machine load"]

    def load(v: Validation | None) -> str:
        return "-" if v is None or v.load is None else f"{v.load:.1f}"

    return _table(
        "the stored fit's validation and this check",
        {
            "figure": rows,
            "fit's held-out": [*_figures(stored), "-", "-", load(stored)],
            "this check": [
                *_figures(now),
                f"{100 * q.mape:.1f}",
                f"{100 * q.within_10:.0f} %",
                load(now),
            ],
            "needs": [*_thresholds(), "-", "-", "-"],
        },
    )
