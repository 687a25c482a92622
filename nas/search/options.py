"""The options of ``nas search`` (and ``nas worker``), declared once.

:class:`SearchOptions` is a pydantic model: each field's default, range and help text live in
its ``Field``; the command line is generated from it (:mod:`nas.commands.arguments`, the
argparse bridge) and the HTTP service takes it as its request body, so the CLI, the API
schema and the library cannot drift apart. Registry contents (strategy names, latency modes)
are read when the help is built or a value is checked, never copied into this file.

This is a leaf module: it imports pydantic, the standard library and :mod:`nas.limits` (the caps
of every number from outside) at the top, and the
torch-free registries (:mod:`nas.strategies`, :mod:`nas.evaluators.base`) only inside the
functions that need them.

Errors: every way of building ``SearchOptions`` (the constructor, ``model_validate``,
``model_validate_json``, a FastAPI request body) raises :class:`~nas.errors.OptionError` with
one line that names the command-line flag (``--budget must be at least 1, got 0``): the model's
``__init__`` turns pydantic's ``ValidationError`` into it with :func:`option_error` (pydantic
calls a custom ``__init__`` on validation too). A service maps ``NasInputError`` to HTTP 422.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nas import limits
from nas.errors import OptionError

# How a search is driven (nas.strategies.base.Strategy.driver): an Optuna sampler proposes
# candidates ("sampler") or gradient descent on architecture weights derives them ("gradient").
SAMPLER, GRADIENT = "sampler", "gradient"


# Latency is measured where the export runs by default: the deliverable of `nas export` is
# model.onnx, and torch eager's per-operator overhead makes small networks look about 20x slower
# (benchmarks/RESULTS.md, "Eager torch against ONNX Runtime").
DEFAULT_TARGET = "onnxruntime"


@dataclass(frozen=True)
class Cli:
    """How a field appears on the command line (pydantic keeps it in the field's metadata).

    ``parse`` is the argparse ``type``; ``choices`` and ``more`` are called when the parser is
    built: ``choices`` become argparse choices, the text ``more`` returns is appended to the
    help (registry contents, read at that moment).
    ``group`` puts the flag in an argument group; ``driver`` marks an option only searches of
    that driver use (a search of another driver refuses a value other than the default).
    ``objective`` marks an option only that objective uses; ``network`` one that only searches
    that build and time networks use (not a table's look-ups); ``trains`` one that only searches
    that train a supernet use (not a zero-cost proxy's or a table's). ``nas show`` prints a
    study's options that apply to it (:func:`applies`).
    """

    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    choices: Callable[[], Sequence[str]] | None = None
    more: Callable[[], str] | None = None
    group: str | None = None
    driver: str | None = None
    objective: str | None = None
    network: bool = False
    trains: bool = False


def whole_number(text: str) -> int:
    """argparse ``type`` of whole numbers, with a one-line message for anything else."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _strategy_list() -> str:
    from nas.strategies import strategy_names

    return "; one of " + ", ".join(strategy_names())


def _evaluator_list() -> str:
    from nas.evaluators.factory import evaluator_usage

    return "; " + evaluator_usage()


def _warm_start_proxies() -> str:
    from nas.search.warm_start import WARM_START_PROXIES

    return "; PROXY one of " + ", ".join(WARM_START_PROXIES)


def _budget_meaning() -> str:
    """What the budget counts, per strategy, from the strategy registry."""
    from nas.strategies import get_strategy, strategy_names

    by_unit: dict[tuple[str, int], list[str]] = {}
    for name in strategy_names():
        s = get_strategy(name)
        by_unit.setdefault((s.budget_unit, s.default_budget), []).append(name)
    return ": " + "; ".join(
        f"{', '.join(names)}: {unit} (default {default})"
        for (unit, default), names in by_unit.items()
    )


def _latency_modes() -> tuple[str, ...]:
    from nas.evaluators.base import LATENCY_MODES

    return LATENCY_MODES


def _strategy_names() -> list[str]:
    from nas.strategies import strategy_names

    return strategy_names()


def _enum_or_null(schema: dict[str, Any], names: Sequence[str]) -> None:
    """The JSON schema of an optional option whose values come from a registry: one of the
    registry's names, or null. Filled in when the schema is made (the service's OpenAPI), so
    a client or a fuzzer generates only values the server takes."""
    schema["anyOf"] = [{"type": "string", "enum": list(names)}, {"type": "null"}]


# the default supernet schedule: about this many sandwich steps, whatever the data set's size
DEFAULT_SUPERNET_STEPS = 250

DARTS_GROUP = "darts: options of --strategy darts (see docs/darts.md)"


class SearchOptions(BaseModel):
    """Everything ``nas search`` takes; validated on construction (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    space: str = Field("mobile", description="built-in space name or path to a .yaml file")
    budget: Annotated[int, Cli(parse=whole_number, more=_budget_meaning)] = Field(
        200, ge=1, le=limits.MAX_BUDGET, description="what the study should hold, per strategy"
    )
    strategy: Annotated[str | None, Cli(more=_strategy_list)] = Field(
        None,
        description="how candidates are proposed (default: nsga2 for pareto, tpe for weighted); "
        "darts (cell spaces nb201, darts) trains the supernet by differentiable search and "
        "records the derived cell after every epoch",
        json_schema_extra=lambda schema: _enum_or_null(schema, _strategy_names()),
    )
    data: Annotated[str | None, Cli(network=True)] = Field(
        None,
        description="fashion-mnist (default where Debian's dataset-fashion-mnist is installed), "
        "digits (embedded; the default elsewhere), a .npz with x and y, a folder of MNIST-format "
        "IDX files, a CIFAR-10 python folder, or an image folder with one sub-folder per class",
    )
    train_images: Annotated[int, Cli(parse=whole_number, network=True)] = Field(
        8_000,
        ge=10,
        le=10_000_000,
        description="the supernet trains on a fixed stratified subset of at most N training "
        "images (the same images on every run and machine)",
    )
    val_images: Annotated[int, Cli(parse=whole_number, network=True)] = Field(
        2_000,
        ge=10,
        le=10_000_000,
        description="candidates are scored on a fixed stratified subset of at most N "
        "validation images; the standard error of an accuracy p is sqrt(p(1-p)/N)",
    )
    latency_input: Annotated[str | None, Cli(metavar="BxCxHxW", network=True)] = Field(
        None,
        description="measure latency at another input shape than candidates are scored at "
        "(a proxy task: train small, deploy large, e.g. 1x3x224x224); by default accuracy and "
        "latency are measured at the same shape. Recorded in the study and shown with results",
    )
    storage: Annotated[str, Cli(metavar="URL")] = Field(
        "sqlite:///studies.db",
        description="SQLAlchemy URL of the study database; postgresql://user:pass@host/db to "
        "share one study between machines",
    )
    study: str | None = Field(
        None,
        description="study name (default: SPACE-STRATEGY-YYYYMMDD, -seedN for --seed N); an "
        "existing one is resumed",
    )
    seed: Annotated[int, Cli(parse=whole_number)] = Field(
        0,
        ge=0,
        le=limits.MAX_SEED,
        description="seed of the strategy's proposals (DARTS: of its training too); another "
        "seed is another search (study SPACE-STRATEGY-YYYYMMDD-seedN) on the same supernet",
    )
    objective: Literal["pareto", "weighted"] = Field(
        "pareto",
        description="pareto: maximise accuracy and minimise latency; weighted: MnasNet score "
        "accuracy * (latency / T) ** w",
    )
    latency_target_ms: Annotated[float | None, Cli(metavar="T", objective="weighted")] = Field(
        None,
        gt=0,
        le=limits.MAX_LATENCY_MS,
        description="latency target T of the weighted objective",
    )
    latency_weight: Annotated[float, Cli(metavar="W", objective="weighted")] = Field(
        -0.07,
        ge=-limits.MAX_ABS_LATENCY_WEIGHT,
        le=limits.MAX_ABS_LATENCY_WEIGHT,
        description="exponent w of the weighted objective",
    )
    max_latency_ms: Annotated[float | None, Cli(metavar="X")] = Field(
        None,
        gt=0,
        le=limits.MAX_LATENCY_MS,
        description="hard constraint: candidates slower than X ms are infeasible",
    )
    target: Annotated[str, Cli(network=True)] = Field(
        DEFAULT_TARGET,
        description="where latency is measured: onnxruntime (the runtime of the exported "
        "model.onnx, same session settings), cpu (torch eager), cuda, remote:HOST:PORT "
        "(a 'nas device serve' agent; token in NAS_DEVICE_TOKEN)",
    )
    clock: Annotated[Literal["wall", "cpu"], Cli(network=True)] = Field(
        "wall",
        description="wall: elapsed time; cpu: the measuring thread's CPU time, which other jobs "
        "on a shared machine do not inflate (use with --threads 1)",
    )
    latency: Annotated[str, Cli(choices=_latency_modes, network=True)] = Field(
        "measured",
        description="measured: time every candidate end to end; predicted: lookup table plus "
        "fitted correction (profiled once per target); hybrid: predict all, measure only "
        "candidates that could enter the Pareto front",
        json_schema_extra=lambda schema: schema.update(enum=list(_latency_modes())),
    )
    threads: Annotated[int | None, Cli(parse=whole_number, network=True)] = Field(
        None,
        ge=1,
        le=limits.MAX_THREADS,
        description="threads of the latency measurement (default: torch's default)",
    )
    supernet_epochs: Annotated[
        int | None, Cli(parse=whole_number, driver=SAMPLER, network=True, trains=True)
    ] = Field(
        None,
        ge=1,
        le=limits.MAX_EPOCHS,
        description="supernet training epochs over the --train-images subset (default: as many "
        f"as make about {DEFAULT_SUPERNET_STEPS} optimiser steps; the number used is recorded)",
    )
    batch_size: Annotated[int, Cli(parse=whole_number, network=True)] = Field(
        128, ge=1, le=limits.MAX_BATCH_SIZE, description="supernet training batch"
    )
    supernet_seed: Annotated[
        int, Cli(parse=whole_number, driver=SAMPLER, network=True, trains=True)
    ] = Field(
        0,
        ge=0,
        le=limits.MAX_SEED,
        description="seed of supernet training and of the BatchNorm re-estimation that scores "
        "candidates (part of the checkpoint's key, so searches with other --seed share it)",
    )
    calib_batches: Annotated[int, Cli(parse=whole_number, network=True)] = Field(
        4,
        ge=1,
        le=limits.MAX_CALIB_BATCHES,
        description="training batches for each candidate's BatchNorm recalibration",
    )
    evaluator: Annotated[
        str,
        Cli(
            metavar="NAME[:ARG]",
            driver=SAMPLER,
            more=_evaluator_list,
        ),
    ] = Field(
        "auto",
        description="auto (the default): the scorer that ranked the space's reference set best "
        "when trained from scratch, where one was measured for this space and data (mobile on "
        "fashion-mnist; docs/fidelity.md), else supernet; the study records which",
        # the registry's kinds, read when the schema is made (the service's OpenAPI), not on
        # import: the registry lives beside the evaluators
        json_schema_extra=lambda schema: schema.update(
            description=str(schema.get("description", "")) + _evaluator_list()
        ),
    )
    accuracy_column: Annotated[str | None, Cli(metavar="C", driver=SAMPLER)] = Field(
        None, description="table column searched as accuracy, in percent (default 'accuracy')"
    )
    latency_column: Annotated[str | None, Cli(metavar="L", driver=SAMPLER)] = Field(
        None,
        description="table column used as latency in ms (default 'latency_ms'; a table "
        "without one: latency measured on --target)",
    )
    warm_start: Annotated[
        str | None, Cli(metavar="PROXY[:POOL]", driver=SAMPLER, more=_warm_start_proxies)
    ] = Field(
        None,
        description="pre-screen POOL random architectures (default 5000) with a training-free "
        "proxy and start the search from the best of them by proxy and a cheap latency "
        "(the table's latency column, the latency predictor, else FLOPs): they are enqueued as "
        "the first trials (docs/strategies.md)",
    )
    checkpoint_dir: Annotated[str | None, Cli(network=True, trains=True)] = Field(
        None,
        description="where supernet checkpoints go (default: nas_checkpoints/ beside the "
        "database)",
    )
    workers: Annotated[int, Cli(metavar="K", parse=whole_number, driver=SAMPLER)] = Field(
        1,
        ge=1,
        le=limits.MAX_WORKERS,
        description="evaluate in K local 'nas worker' processes sharing the study. SQLite "
        "handles a few local workers (WAL journal, write-locking transactions, 60 s busy "
        "timeout); use PostgreSQL for workers on several machines (see nas worker --help)",
    )
    darts_order: Annotated[Literal[1, 2], Cli(group=DARTS_GROUP, driver=GRADIENT)] = Field(
        1, description="1: first-order DARTS; 2: second-order (unrolled) approximation"
    )
    darts_latency_weight: Annotated[
        float, Cli(metavar="L", group=DARTS_GROUP, driver=GRADIENT)
    ] = Field(
        0.0,
        ge=0,
        description="hardware-aware term: adds L * expected latency (ms, from a per-operation "
        "latency table measured on --target) to the architecture loss (0: plain DARTS). Not "
        "--latency-weight, which is the weighted objective's exponent",
    )
    darts_arch_lr: Annotated[float, Cli(group=DARTS_GROUP, driver=GRADIENT)] = Field(
        3e-3,
        gt=0,
        le=limits.MAX_ARCH_LR,
        description="Adam learning rate of the architecture weights",
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise option_error(exc) from None

    @model_validator(mode="before")
    @classmethod
    def _strategy_budget(cls, data: Any) -> Any:
        """A budget not given is the strategy's default (DARTS: 20 epochs, not 200)."""
        if isinstance(data, dict) and data.get("budget") is None and data.get("strategy"):
            from nas.strategies import get_strategy

            try:
                default = get_strategy(str(data["strategy"])).default_budget
            except OptionError as exc:
                raise ValueError(str(exc)) from None
            data = {**data, "budget": default}
        return data

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str | None) -> str | None:
        if v is not None:
            from nas.strategies import get_strategy

            try:
                get_strategy(v)
            except OptionError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("latency_input")
    @classmethod
    def _shape(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from nas.errors import NasInputError
        from nas.spaces.base import LatencyInput

        try:
            return LatencyInput.parse(v).text
        except NasInputError as exc:
            raise ValueError(f"--latency-input: {exc}") from None

    @field_validator("study")
    @classmethod
    def _printable_name(cls, v: str | None) -> str | None:
        """Stored, listed and printed: short and free of terminal controls (nas.limits)."""
        if v is not None:
            try:
                limits.check_name(v)
            except limits.LimitError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("warm_start")
    @classmethod
    def _warm_start(cls, v: str | None) -> str | None:
        """Stored as ``PROXY:POOL`` (the pool resolved), so a resume reads one form."""
        if v is None:
            return v
        from nas.search.warm_start import WarmStartSpec

        try:
            return WarmStartSpec.parse(v).text
        except OptionError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("latency")
    @classmethod
    def _known_latency(cls, v: str) -> str:
        modes = _latency_modes()
        if v not in modes:
            raise ValueError(f"--latency must be one of {', '.join(modes)}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SearchOptions:
        if self.objective == "weighted" and not (self.latency_target_ms or 0) > 0:
            raise ValueError("--objective weighted needs --latency-target-ms T with T > 0")
        from nas.strategies import get_strategy, strategy_names

        driver = get_strategy(self.strategy_name).driver
        for name in sorted(self.model_fields_set):
            cli = _cli(name)
            # a default value changes nothing (and a full dump must load again)
            unused = getattr(self, name) != SearchOptions.model_fields[name].default
            if cli.driver and cli.driver != driver and unused:
                users = [s for s in strategy_names() if get_strategy(s).driver == cli.driver]
                raise ValueError(
                    f"--strategy {self.strategy_name} does not use {flag(name)}: only "
                    f"{', '.join(users)} {'does' if len(users) == 1 else 'do'}"
                    + _DRIVER_NOTE.get(driver, "")
                )
        return self

    @property
    def n_objectives(self) -> int:
        return 2 if self.objective == "pareto" else 1

    @property
    def strategy_name(self) -> str:
        if self.strategy:
            return self.strategy
        from nas.strategies import default_strategy

        return default_strategy(self.n_objectives)

    def given(self) -> dict[str, Any]:
        """The options set explicitly, JSON-friendly (what a worker or a resume passes on)."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))


_DRIVER_NOTE = {
    GRADIENT: " (DARTS trains its own supernet in one process; its --budget counts epochs)"
}


def applies(
    name: str, *, strategy: str, objective: str, network: bool, trains: bool = True
) -> bool:
    """Whether option ``name`` means anything to a search with ``strategy`` and ``objective``
    (``network``: it builds and times networks, unlike a table's look-ups; ``trains``: it trains
    a supernet, unlike a zero-cost proxy); from the field's :class:`Cli` marker."""
    from nas.strategies import get_strategy

    cli = _cli(name)
    try:
        driver: str | None = get_strategy(strategy).driver
    except OptionError:  # a strategy this version does not know: keep the option
        driver = None
    if cli.driver and driver and cli.driver != driver:
        return False
    if cli.objective and cli.objective != objective:
        return False
    if cli.trains and not trains:
        return False
    return network or not cli.network


def flag(name: str) -> str:
    """The command-line flag of field ``name``: ``supernet_epochs`` -> ``--supernet-epochs``."""
    return "--" + name.replace("_", "-")


def _cli(name: str) -> Cli:
    for m in SearchOptions.model_fields[name].metadata:
        if isinstance(m, Cli):
            return m
    return Cli()


def option_error(exc: ValidationError) -> OptionError:
    """The first error of ``exc`` as one line that names the flag (the CLI prints it)."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
    name = flag(loc[0]) if loc else "options"
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "value_error":  # our own validators say the whole line
        return OptionError(str(ctx.get("error", err["msg"])))
    if kind == "greater_than_equal":
        word = ">=" if isinstance(value, float) else "at least"
        return OptionError(f"{name} must be {word} {ctx['ge']:g}, got {value}")
    if kind == "greater_than":
        return OptionError(f"{name} must be > {ctx['gt']:g}, got {value}")
    if kind == "less_than_equal":  # the caps of nas.limits
        return OptionError(
            f"{name} must be at most {ctx['le']:,} (nas.limits), got {limits.shorten(value)}"
        )
    if kind == "literal_error":
        return OptionError(f"{name} must be {ctx['expected']}, got {value!r}")
    if kind == "finite_number":
        return OptionError(f"{name} must be a finite number, got {value}")
    if kind == "extra_forbidden":
        return OptionError(f"unknown option {loc[0] if loc else value!r}")
    return OptionError(f"{name}: {err['msg'].lower()}, got {limits.shorten(value)}")
