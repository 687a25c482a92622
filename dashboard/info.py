"""Chart data as plain records: one pure ``*_info`` function per chart (Optuna's split).

These functions take trials (or :class:`~dashboard.data.StudyData`) and return frozen
records; :mod:`dashboard.figures` turns the records into Plotly figures. Keeping the numbers
here makes them testable without a browser and shared by the live app and ``nas report``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from dashboard.data import LatencyRow, LookupTable, StudyData
from nas.analysis.anytime import AnytimePoint, default_reference, history
from nas.analysis.axis import ACCURACY, AccuracyAxis
from nas.analysis.evidence import anchor_roles, axis_of, latency_title
from nas.analysis.results import knee, metrics, pareto_front
from nas.storage import keys
from nas.storage.latency_lut import LayerKey, Validation, parse_key


# ---- Pareto front ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One completed trial in the accuracy/latency plane."""

    number: int
    accuracy: float  # fraction
    latency_ms: float
    p10_ms: float | None
    p90_ms: float | None
    std_ms: float | None
    params_m: float | None
    flops_m: float | None
    arch_str: str
    feasible: bool
    on_front: bool
    noisy: bool = False  # the measurement's own flag (spread over 25 % or never settled)
    accuracy_se: float | None = None  # standard error of the accuracy (fraction)
    anchor: str = ""  # "largest" | "smallest": one of the space's anchors, scored first


@dataclass(frozen=True)
class ParetoInfo:
    points: tuple[Point, ...]  # every completed trial, in number order
    front: tuple[int, ...]  # trial numbers on the front, fastest first
    max_latency_ms: float | None
    knee: int | None  # the front's knee trial number (the default pick)
    axis: AccuracyAxis = ACCURACY  # accuracy in percent, or a zero-cost proxy's score
    latency_title: str = "latency (ms, median)"  # names the target (or the table's column)

    def by_number(self, number: int) -> Point | None:
        return self._index.get(number)

    @cached_property
    def _index(self) -> dict[int, Point]:  # the report looks up every front row: O(1) each
        return {p.number: p for p in self.points}


def _float(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def point(
    t: FrozenTrial, *, feasible: bool = True, on_front: bool = False, anchor: str = ""
) -> Point:
    acc, lat = metrics(t)  # type: ignore[misc]
    ua = t.user_attrs
    raw = ua.get(keys.LATENCY)
    stats: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Point(
        number=t.number,
        accuracy=acc,
        latency_ms=lat,
        p10_ms=_float(stats.get("p10_ms")),
        p90_ms=_float(stats.get("p90_ms")),
        std_ms=_float(stats.get("std_ms")),
        params_m=_float(ua.get(keys.PARAMS_M)),
        flops_m=_float(ua.get(keys.FLOPS_M)),
        arch_str=str(ua.get(keys.ARCH_STR, "")),
        feasible=feasible,
        on_front=on_front,
        noisy=bool(stats.get("noisy")),
        accuracy_se=_float(ua.get(keys.ACCURACY_SE)),
        anchor=anchor,
    )


@dataclass(frozen=True)
class AxisCut:
    """Where the accuracy axis starts when a few trials score far below the rest (NAS-Bench-201's
    all-``none`` cell: 10 % at 0 ms), and those trials, which are then off the chart."""

    floor: float  # fraction: the lowest accuracy kept on the axis
    below: tuple[Point, ...]  # the trials under it, lowest first


MIN_POINTS_TO_CUT = 8  # quartiles of fewer trials say little


def axis_cut(points: Sequence[Point]) -> AxisCut | None:
    """The cut that keeps an outlier from squashing the axis: trials under Tukey's far-out
    fence (first quartile - 3 x the interquartile range) of the accuracies are left below the
    axis (the chart says so); None when there are none, or too few trials to tell."""
    acc = np.array([p.accuracy for p in points], dtype=float)
    if len(acc) < MIN_POINTS_TO_CUT:
        return None
    q1, q3 = np.percentile(acc, [25, 75])
    if q3 <= q1:
        return None
    fence = q1 - 3 * (q3 - q1)
    below = sorted((p for p in points if p.accuracy < fence), key=lambda p: p.accuracy)
    if not below:
        return None
    return AxisCut(float(min(a for a in acc if a >= fence)), tuple(below))


def pareto_info(study: StudyData) -> ParetoInfo:
    """Every completed trial as a point; the feasible front and its knee marked."""
    done = study.complete
    limit = study.max_latency_ms
    front = pareto_front(done, limit)
    on = {t.number for t in front}
    k = knee(front)
    roles = anchor_roles(study.anchors, done)
    pts = tuple(
        point(
            t,
            feasible=limit is None or metrics(t)[1] <= limit,  # type: ignore[index]
            on_front=t.number in on,
            anchor=roles.get(t.number, ""),
        )
        for t in done
    )
    return ParetoInfo(
        pts,
        tuple(t.number for t in front),
        limit,
        k.number if k else None,
        _axis(study),
        latency_title(study.settings),
    )


def _axis(study: StudyData) -> AccuracyAxis:
    """Inherited acc for a supernet study, a zero-cost proxy's score, or accuracy."""
    return axis_of(study.settings)


# ---- anytime ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnytimeInfo:
    points: tuple[AnytimePoint, ...]
    ref_ms: float  # hypervolume reference latency
    axis: AccuracyAxis = ACCURACY


def anytime_info(study: StudyData, ref_ms: float | None = None) -> AnytimeInfo:
    done = study.complete
    ref = ref_ms if ref_ms is not None else default_reference(done, study.max_latency_ms)
    points = tuple(history(done, ref_ms=ref, max_latency_ms=study.max_latency_ms))
    return AnytimeInfo(points, ref, _axis(study))


# ---- latency distribution --------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyInfo:
    latency_ms: tuple[float, ...]  # median latency of each completed trial
    spread_pct: tuple[float, ...]  # (p90 - p10) / median in %, where recorded
    sources: dict[str, int]  # latency_source -> trials


def latency_info(study: StudyData) -> LatencyInfo:
    lats, spread = [], []
    sources: dict[str, int] = {}
    for t in study.complete:
        p = point(t)
        lats.append(p.latency_ms)
        if p.p10_ms is not None and p.p90_ms is not None and p.latency_ms > 0:
            spread.append(100 * (p.p90_ms - p.p10_ms) / p.latency_ms)
        src = str(t.user_attrs.get(keys.LATENCY_SOURCE, "measured"))
        sources[src] = sources.get(src, 0) + 1
    return LatencyInfo(tuple(lats), tuple(spread), sources)


# ---- parameter importance --------------------------------------------------------------------
@dataclass(frozen=True)
class ImportanceInfo:
    """Importance of each choice per objective; ``message`` explains an empty result."""

    importances: dict[str, dict[str, float]]  # objective name -> {param: importance}
    message: str = ""


MIN_IMPORTANCE_TRIALS = 4


def importance_info(study: StudyData, optuna_study: object) -> ImportanceInfo:
    """PED-ANOVA importances of the study's choices, one set per objective.

    PED-ANOVA (Watanabe et al., "PED-ANOVA: Efficiently Quantifying Hyperparameter Importance
    in Arbitrary Subspaces", IJCAI 2023) measures how much each choice matters for reaching the
    top 10 % of an objective; it takes under a second where fANOVA takes tens of seconds on a
    thousand trials of the mobile space. It assumes lower is better, so maximised objectives
    are negated. A study with too few trials or no varying choice gets a message instead.
    """
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    n = len(study.complete)
    if n < MIN_IMPORTANCE_TRIALS:
        return ImportanceInfo(
            {}, f"parameter importance needs {MIN_IMPORTANCE_TRIALS} completed trials, has {n}"
        )
    names = _objective_names(study)
    signs = [-1.0 if d == "maximize" else 1.0 for d in study.directions] or [1.0] * len(names)
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        sign = signs[i] if i < len(signs) else 1.0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = get_param_importances(
                    optuna_study,  # type: ignore[arg-type]
                    evaluator=PedAnovaImportanceEvaluator(),
                    target=_objective(i, sign),
                )
        except (ValueError, RuntimeError, ZeroDivisionError, optuna.exceptions.OptunaError) as exc:
            return ImportanceInfo(out, f"parameter importance unavailable: {exc}")
        out[name] = {k: float(v) for k, v in imp.items()}
    if not any(any(v > 0 for v in imp.values()) for imp in out.values()):
        return ImportanceInfo({}, "no choice made a difference between the completed trials")
    return ImportanceInfo(out)


def _objective(i: int, sign: float) -> Callable[[FrozenTrial], float]:
    return lambda t: sign * t.values[i]


def _objective_names(study: StudyData) -> list[str]:
    if study.settings is not None:
        return study.settings.metric_names()
    if len(study.directions) == 2:
        return [keys.ACCURACY, keys.LATENCY_MS]
    return ["objective"]


# ---- compare ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompareInfo:
    """Several studies in one frame; hypervolumes share one reference latency."""

    names: tuple[str, ...]
    fronts: tuple[tuple[Point, ...], ...]
    anytime: tuple[AnytimeInfo, ...]
    ref_ms: float
    note: str = ""
    axis: AccuracyAxis = ACCURACY  # the studies' common accuracy axis (accuracy where they differ)


def compare_info(studies: Sequence[StudyData]) -> CompareInfo:
    spaces = {s.settings.space for s in studies if s.settings is not None}
    note = ""
    if len(spaces) > 1:
        note = f"these studies search different spaces ({', '.join(sorted(spaces))})"
    axes = {_axis(s) for s in studies}
    if len(axes) > 1:  # e.g. inherited acc beside a table's accuracy: not the same quantity
        said = f"their accuracy axes differ ({', '.join(sorted(a.name for a in axes))})"
        note = f"{note}; {said}" if note else said
    lats = [p for s in studies for t in s.complete if (p := metrics(t)) is not None]
    limits = [s.max_latency_ms for s in studies if s.max_latency_ms is not None]
    if limits and len(limits) == len(studies):
        ref = max(limits)
    else:
        ref = 1.1 * max((m[1] for m in lats), default=1.0 / 1.1)
    fronts = tuple(
        tuple(point(t, on_front=True) for t in pareto_front(s.complete, s.max_latency_ms))
        for s in studies
    )
    return CompareInfo(
        tuple(s.name for s in studies),
        fronts,
        tuple(anytime_info(s, ref) for s in studies),
        ref,
        note,
        axes.pop() if len(axes) == 1 else ACCURACY,
    )


# ---- hardware --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictedPair:
    number: int
    predicted_ms: float
    measured_ms: float


@dataclass(frozen=True)
class HardwareInfo:
    """Latency provenance: the shared measurement cache, and predictions checked against it."""

    sources: dict[str, int]
    cache_ms: tuple[float, ...]  # median latency of every cached measurement (this target)
    cache_targets: dict[str, int]  # fingerprint id -> cached measurements
    pairs: tuple[PredictedPair, ...]
    r2: float | None
    mape_pct: float | None


PREDICTED_SOURCES = ("predicted", "table")


def hardware_info(study: StudyData, rows: Sequence[LatencyRow]) -> HardwareInfo:
    """Pair every predicted trial latency with a measurement of the same network, if cached."""
    done = study.complete
    sources: dict[str, int] = {}
    fps = {str(t.user_attrs.get(keys.FINGERPRINT_ID, "")) for t in done} - {""}
    measured = {(r.arch_hash, r.fingerprint_id): r.median_ms for r in rows}
    targets: dict[str, int] = {}
    for r in rows:
        targets[r.fingerprint_id] = targets.get(r.fingerprint_id, 0) + 1
    pairs = []
    for t in done:
        ua = t.user_attrs
        src = str(ua.get(keys.LATENCY_SOURCE, "measured"))
        sources[src] = sources.get(src, 0) + 1
        if src in PREDICTED_SOURCES:
            key = (str(ua.get(keys.ARCH_HASH, "")), str(ua.get(keys.FINGERPRINT_ID, "")))
            if key in measured:
                pairs.append(PredictedPair(t.number, float(ua[keys.LATENCY_MS]), measured[key]))
    r2 = mape = None
    if len(pairs) >= 2:
        p = np.array([x.predicted_ms for x in pairs])
        m = np.array([x.measured_ms for x in pairs])
        ss_tot = float(np.sum((m - m.mean()) ** 2))
        r2 = 1 - float(np.sum((m - p) ** 2)) / ss_tot if ss_tot > 0 else None
        mape = float(np.mean(np.abs(p - m) / m)) * 100
    cache_ms = tuple(r.median_ms for r in rows if not fps or r.fingerprint_id in fps)
    return HardwareInfo(sources, cache_ms, targets, tuple(pairs), r2, mape)


# ---- lookup tables ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FitInfo:
    """The predictor's correction ``a * table_sum + b``, how well it fits its own samples, and
    its validation on held-out networks (None: fitted before fits were validated)."""

    num_classes: int
    a: float
    b: float
    n: int
    r2: float | None
    mape_pct: float | None
    validation: Validation | None = None

    @property
    def failures(self) -> tuple[str, ...]:
        """Why a search refuses this fit (empty: it is used), as ``nas search`` would say."""
        if self.validation is None:
            return ("no validation figures (fitted before fits were validated)",)
        return tuple(self.validation.failures())


@dataclass(frozen=True)
class LutInfo:
    """One lookup table as a grid: rows are block positions, columns block options (ms)."""

    space_digest: str
    fingerprint_id: str
    rows: tuple[str, ...]  # "stage1 · first · 16→24 s2 @112×112", top to bottom
    columns: tuple[str, ...]  # "k3 e4"
    ms: tuple[tuple[float | None, ...], ...]  # rows x columns; None: not profiled
    fixed: tuple[tuple[str, float], ...]  # stem and head entries: (label, ms)
    fits: tuple[FitInfo, ...]
    matches_study: bool  # the study's space and target
    target: str = ""  # for people: "cpu (torch 2.5.1, 1 thread)"; the id where unknown
    space: str = ""  # the study's space name where the table is its space's, else the digest


def _fit_info(num_classes: int, fit: dict[str, Any]) -> FitInfo:
    meta = fit.get("meta") or {}
    a, b = float(fit["a"]), float(fit["b"])
    sums, measured = meta.get("table_sums_ms") or [], meta.get("measured_ms") or []
    r2 = mape = None
    if len(sums) == len(measured) >= 2:
        m = np.asarray(measured, dtype=float)
        floor = float(meta.get("floor_ratio", 0.0))
        p = np.maximum(a * np.asarray(sums, dtype=float) + b, floor * np.asarray(sums))
        ss_tot = float(np.sum((m - m.mean()) ** 2))
        r2 = 1 - float(np.sum((m - p) ** 2)) / ss_tot if ss_tot > 0 else None
        mape = float(np.mean(np.abs(p - m) / m)) * 100
    v = Validation.from_dict(meta.get("validation") or {})
    return FitInfo(num_classes, a, b, int(fit["n"]), r2, mape, v)


def _later(k: LayerKey) -> bool:
    """Layers 1.. of a stage keep width and size (the first may too; rare, shown as later)."""
    return k.in_ch == k.out_ch and k.stride == 1


def lut_info(table: LookupTable, study: StudyData | None = None) -> LutInfo:
    """The table of one space and target as rows (block position) x columns (kernel x expand).

    Blocks are ordered as the network runs them (larger inputs first; in a stage the first
    layer, which changes stride or width, before the later ones, which share one entry).
    """
    blocks: dict[tuple[int, int, int, int, int, int], dict[tuple[int, int], float]] = {}
    fixed: list[tuple[str, float]] = []
    for key, ms in table.entries.items():
        k = parse_key(key)
        if k is None:
            continue
        if k.kind == "mbconv":
            pos = (k.height, k.width, k.in_ch, k.out_ch, k.stride, k.batch)
            blocks.setdefault(pos, {})[(k.kernel, k.expand)] = ms
        else:
            extra = f" ({k.classes} classes)" if k.kind == "head" else ""
            fixed.append((f"{k.kind}{extra} {k.in_ch}→{k.out_ch} @{k.height}×{k.width}", ms))
    pos_keys = {
        p: LayerKey("mbconv", p[2], p[3], 0, p[4], 0, 0, 0, p[5], p[0], p[1]) for p in blocks
    }
    # Larger inputs run first; at one input size a stage's later layers come before the next
    # stage's first layer, which reads their width (widths grow along the network).
    order = sorted(blocks, key=lambda p: (-p[0], -p[1], p[2], not _later(pos_keys[p]), p[3]))
    rows, stage = [], -1  # stages counted from 0, as the space's labels count them (stage0.depth)
    for p in order:
        k = pos_keys[p]
        stage += not _later(k) or stage == -1
        where = "later" if _later(k) else "first"
        rows.append(
            f"stage{stage} · {where} · {k.in_ch}→{k.out_ch} s{k.stride} @{k.height}×{k.width}"
        )
    options = sorted({opt for cells in blocks.values() for opt in cells})
    grid = tuple(tuple(blocks[p].get(opt) for opt in options) for p in order)
    s = study.settings if study is not None else None
    fps = (
        {str(t.user_attrs.get(keys.FINGERPRINT_ID, "")) for t in study.complete}
        if study
        else set()
    )
    matches = (
        s is not None and s.space_digest == table.space_digest and table.fingerprint_id in fps
    )
    same_space = s is not None and s.space_digest == table.space_digest
    return LutInfo(
        table.space_digest,
        table.fingerprint_id,
        tuple(rows),
        tuple(f"k{k} e{e}" for k, e in options),
        grid,
        tuple(sorted(fixed)),
        tuple(_fit_info(n, f) for n, f in sorted(table.fits.items())),
        matches,
        target=target_name(table.fingerprint, table.fingerprint_id),
        space=Path(s.space).stem if same_space and s is not None else table.space_digest[:8],
    )


def target_name(fingerprint: dict[str, Any], fingerprint_id: str) -> str:
    """A target fingerprint in a few words: ``cpu (torch 2.5.1, 1 thread)``; the id (a hash)
    only for a table stored without one."""
    name = fingerprint.get("target")
    if not name:
        return fingerprint_id
    threads = fingerprint.get("threads")
    details = [
        *([str(fingerprint["runtime"])] if fingerprint.get("runtime") else []),
        *([str(fingerprint["gpu"])] if fingerprint.get("gpu") else []),
        *([f"{threads} thread{'s' if threads != 1 else ''}"] if threads else []),
    ]
    return f"{name} ({', '.join(details)})" if details else str(name)


FIT_HEAD = (
    "classes",
    "correction",
    "fitted on",
    "held-out networks",
    "Kendall tau",
    "median error",
    "worst error",
    "validated",
    "used by searches",
)
REPROFILE = "nas hardware profile --reprofile on a quiet machine"


def fit_rows(i: LutInfo) -> list[list[str]]:
    """One row of :data:`FIT_HEAD` per fit of the table: the correction, its held-out
    figures, and whether a search uses it or refuses it (and why), as ``nas search`` says."""
    rows = []
    for f in i.fits:
        v = f.validation
        figures = (
            ["-"] * 5
            if v is None
            else [
                str(v.n),
                f"{v.kendall_tau:.3f}",
                f"{100 * v.median_rel_error:.1f} %",
                f"{100 * v.max_rel_error:.1f} %",
                v.validated_at + ("" if v.load is None else f", load {v.load:.1f}"),
            ]
        )
        verdict = (
            "yes: passed its validation"
            if not f.failures
            else f"no, refused: {'; '.join(f.failures)}; run {REPROFILE}"
        )
        cells = [str(f.num_classes), f"{f.a:.4f} × sum {f.b:+.3f} ms", f"{f.n} networks"]
        rows.append([*cells, *figures, verdict])
    return rows


def lut_infos(tables: Sequence[LookupTable], study: StudyData | None = None) -> list[LutInfo]:
    """The tables to show with a study: those of its space and target if there are any, else
    every stored table."""
    infos = [lut_info(t, study) for t in tables]
    mine = [i for i in infos if i.matches_study]
    return mine or infos
