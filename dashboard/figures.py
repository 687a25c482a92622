"""Plotly figures from the records of :mod:`dashboard.info` and :mod:`dashboard.arch`.

Each ``plot_*`` function is pure (record in, ``go.Figure`` out), so the live app and the static
``nas report`` draw identical charts. Plotly is imported here only; import this module lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from dashboard.arch import ArchInfo, CellArch, ChainArch, PlainArch
from dashboard.info import (
    AnytimeInfo,
    AxisCut,
    CompareInfo,
    FitInfo,
    HardwareInfo,
    ImportanceInfo,
    LatencyInfo,
    LutInfo,
    ParetoInfo,
    Point,
    axis_cut,
)
from nas.analysis.anytime import AnytimePoint
from nas.analysis.axis import ACCURACY, AccuracyAxis


def _template() -> go.layout.Template:
    """plotly_white with the trace defaults of the trace types drawn here only.

    Every figure carries its template; the full one holds defaults for 24 trace types (7 kB
    per figure, parsed by the browser each time).
    """
    base = pio.templates["plotly_white"]
    used = ("bar", "heatmap", "histogram", "scatter", "scattergl", "table")
    return go.layout.Template(layout=base.layout, data={k: base.data[k] for k in used})


TEMPLATE = _template()
FRONT = "#d62728"
DOMINATED = "#7f9fbf"
INFEASIBLE = "#bbbbbb"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
OP_COLORS = {
    "none": "#bbbbbb",
    "skip_connect": "#2ca02c",
    "nor_conv_1x1": "#1f77b4",
    "nor_conv_3x3": "#d62728",
    "avg_pool_3x3": "#ff7f0e",
}


def _layout(fig: go.Figure, title: str, **kw: object) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 50, "b": 50})
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}}, template=TEMPLATE, **kw
    )
    return fig


def warm_up() -> None:
    """Build and serialise one figure of each kind once, in the main thread.

    Plotly imports some modules (pandas among them) on first use; two server threads doing that
    at the same time can see a half-imported module and fail.
    """
    fig = make_subplots(rows=1, cols=2)
    fig.add_trace(go.Scatter(x=[1], y=[1]), row=1, col=1)
    fig.add_trace(go.Scattergl(x=[1], y=[1]), row=1, col=2)
    fig.add_trace(go.Histogram(x=[1]), row=1, col=1)
    fig.add_trace(go.Bar(x=[1], y=[1]), row=1, col=2)
    fig.add_vline(x=1)
    fig.add_annotation(text="x", x=1, y=1)
    fig.to_json()
    go.Figure(go.Table(header={"values": ["a"]}, cells={"values": [["b"]]})).to_json()


def empty_figure(message: str, title: str = "") -> go.Figure:
    """A blank chart that says why it is blank (never an empty frame)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=320)


LOADING = "loading"  # layout.meta of a placeholder: the browser test and benchmark look for it


@cache
def loading_figure() -> dict:
    """A placeholder until a chart's own data arrives (a plain dict: built once, shared)."""
    fig = empty_figure("loading…")
    fig.update_layout(meta=LOADING)
    return fig.to_plotly_json()


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _r(v: float, digits: int = 4) -> float:
    """``v`` to ``digits`` significant digits: the JSON a browser parses is a third shorter
    and no chart or hover shows more."""
    return float(f"{v:.{digits}g}")


def _spread(p: Point) -> str:
    noisy = " <b>~ noisy measurement</b>" if p.noisy else ""
    if p.p10_ms is None or p.p90_ms is None:
        return noisy
    return f" (p10 {p.p10_ms:.3f} – p90 {p.p90_ms:.3f}){noisy}"


def _details(p: Point) -> str:
    """The hover lines below the coordinates (the trace's template holds the rest)."""
    anchor = (
        f"<b>anchor: the space's {p.anchor} network</b> (scored first)<br>" if p.anchor else ""
    )
    size = size_text(p.params_m, p.flops_m)
    return f"{anchor}{size}<br>{p.arch_str}" if size else f"{anchor}{p.arch_str}"


def size_text(params_m: float | None, flops_m: float | None) -> str:
    """``params 1.234 M · 56.7 MFLOPs``, each only where it is known (a table study knows
    neither: its networks were never built)."""
    parts = [
        *([f"params {params_m:.3f} M"] if params_m is not None else []),
        *([f"{flops_m:.1f} MFLOPs"] if flops_m is not None else []),
    ]
    return " · ".join(parts)


NOISY_LEGEND = "~ noisy latency (open marker)"


def _noisy_symbol(base: str, p: Point) -> str:
    return f"{base}-open" if p.noisy else base


def _noisy_legend(points: Sequence[Point]) -> go.Scatter | None:
    """A legend entry (no points, no trial numbers) that says what an open marker means."""
    n = sum(p.noisy for p in points)
    if not n:
        return None
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        marker={"symbol": "circle-open", "color": "#444", "size": 10},
        name=f"{NOISY_LEGEND}: {n}",
        hoverinfo="skip",
    )


WEBGL_ABOVE = 1000  # points; SVG markers make the browser crawl beyond this


def _scatter(
    points: Sequence[Point],
    name: str,
    note: str = "",
    axis: AccuracyAxis = ACCURACY,
    **kw: object,
) -> go.Scatter | go.Scattergl:
    """One trace of trials: ``customdata`` is the trial number (what a click reports).

    The hover text is one template per trace plus each point's own details, not a whole HTML
    string per point: the 5,000-trial Pareto figure went from 2.0 to about 1 MB.
    """
    kind = go.Scattergl if len(points) > WEBGL_ABOVE else go.Scatter
    marker = kw.get("marker")
    if isinstance(marker, dict) and any(p.noisy for p in points):
        # a noisy latency is drawn as an open marker: visible without hovering
        base = str(marker.get("symbol", "circle"))
        kw = {**kw, "marker": {**marker, "symbol": [_noisy_symbol(base, p) for p in points]}}
    return kind(
        x=[_r(p.latency_ms) for p in points],
        y=[_r(axis.scale * p.accuracy) for p in points],
        customdata=[p.number for p in points],
        hovertext=[_spread(p) for p in points],
        text=[_details(p) for p in points],
        hovertemplate=f"<b>trial %{{customdata}}</b>{note}<br>{_hover_y(axis)}<br>"
        "latency %{x:.3f} ms%{hovertext}<br>%{text}<extra></extra>",
        name=name,
        **kw,
    )


def _hover_y(axis: AccuracyAxis) -> str:
    """The hover line of the accuracy axis (Plotly template)."""
    return f"{axis.name} %{{y:.2f}} %" if axis.percent else f"{axis.name} %{{y:.4f}}"


def _front_trace(front: list[Point], axis: AccuracyAxis = ACCURACY) -> go.Scatter | go.Scattergl:
    """The front as a step line, each point with its p10-p90 latency spread as error bars."""
    return _scatter(
        front,
        f"Pareto front ({len(front)})",
        " · on the front",
        axis,
        mode="lines+markers",
        line={"color": FRONT, "shape": "hv", "width": 2},
        marker={"color": FRONT, "size": 10, "line": {"color": "white", "width": 1}},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [_r(max(0.0, (p.p90_ms or p.latency_ms) - p.latency_ms)) for p in front],
            "arrayminus": [_r(max(0.0, p.latency_ms - (p.p10_ms or p.latency_ms))) for p in front],
            "color": FRONT,
            "thickness": 1,
            "width": 3,
        },
    )


def _point_at(fig: go.Figure, p: Point, text: str, axis: AccuracyAxis = ACCURACY) -> None:
    """An arrow with ``text`` at trial ``p`` (the selected or the knee trial)."""
    fig.add_annotation(
        x=p.latency_ms,
        y=axis.scale * p.accuracy,
        text=text,
        showarrow=True,
        arrowhead=2,
        ax=30,
        ay=-30,
        bgcolor="white",
    )


def plot_pareto(
    info: ParetoInfo, selected: int | None = None, title: str = "", label: str = "trial"
) -> go.Figure:
    """Accuracy vs latency: every completed trial one point, the front as a line.

    Traces partition the trials (dominated, front, over the limit), so the points of all traces
    together are exactly the completed trials; ``customdata`` holds each trial number. Past
    :data:`MAX_DRAWN` dominated (or over-limit) trials, an even sample of them is drawn and the
    chart says so (:func:`decimate`); the front and the anchors are always drawn in full.
    """
    if not info.points:
        return empty_figure("no completed trials yet", title or "Pareto front")
    fig = go.Figure()
    _add_trial_traces(fig, info)
    if info.max_latency_ms is not None:
        fig.add_vline(
            x=info.max_latency_ms,
            line={"dash": "dash", "color": "#444", "width": 1},
            annotation_text=f"limit {info.max_latency_ms:g} ms",
            annotation_position="top left",
        )
    sel = info.by_number(selected) if selected is not None else None
    if sel is not None:
        _point_at(fig, sel, f"{label} {sel.number}", info.axis)
    fig.update_xaxes(title=info.latency_title)
    fig.update_yaxes(title=info.axis.title)
    cut = axis_cut(info.points)
    if cut is not None:
        _cut_axis(fig, info, cut)
    return _layout(
        fig,
        title or "Pareto front — click a point to see its network",
        hovermode="closest",
        legend={"orientation": "h", "y": -0.18},
        height=460,
        clickmode="event",
    )


def _add_trial_traces(fig: go.Figure, info: ParetoInfo) -> None:
    """The traces that partition the completed trials (dominated, front, over the limit), then
    the legend entry of noisy points."""
    dominated = [p for p in info.points if p.feasible and not p.on_front]
    front = sorted((p for p in info.points if p.on_front), key=lambda p: p.latency_ms)
    over = [p for p in info.points if not p.feasible]
    n_dominated, n_over = len(dominated), len(over)
    dominated, over = decimate(dominated), decimate(over)
    if len(dominated) < n_dominated or len(over) < n_over:
        _say_decimated(fig, len(dominated) + len(over), n_dominated + n_over, len(front))
    fig.add_trace(
        _scatter(
            dominated,
            f"trials ({_drawn(len(dominated), n_dominated)})",
            axis=info.axis,
            mode="markers",
            marker={"color": DOMINATED, "size": 7, "opacity": 0.75},
        )
    )
    fig.add_trace(_front_trace(front, info.axis))
    if over:
        fig.add_trace(
            _scatter(
                over,
                f"over the limit ({_drawn(len(over), n_over)})",
                " · over the latency limit",
                info.axis,
                mode="markers",
                marker={"color": INFEASIBLE, "size": 7, "symbol": "x"},
            )
        )
    legend = _noisy_legend(info.points)
    if legend is not None:  # last, so the traces of trials keep their indices
        fig.add_trace(legend)


# Dominated (or over-limit) trials drawn at most on the Pareto chart: 50,000 points made a
# 7 MB report and a slow browser; the front is never thinned (issue 23).
MAX_DRAWN = 5000


def decimate(points: list[Point], most: int | None = None) -> list[Point]:
    """At most ``most`` (default :data:`MAX_DRAWN`) of ``points`` (in trial order): every k-th,
    so the cloud keeps its shape and its history, plus every anchor, which is always shown."""
    most = MAX_DRAWN if most is None else most
    if len(points) <= most:
        return points
    step = -(-len(points) // most)  # ceil
    return [p for k, p in enumerate(points) if k % step == 0 or p.anchor]


def _drawn(shown: int, total: int) -> str:
    return str(total) if shown == total else f"{shown} of {total} drawn"


def _corner_note(fig: go.Figure, text: str, name: str, *, top: bool) -> None:
    """A small grey note in the plot's top-right (``top``) or bottom-left corner."""
    fig.add_annotation(
        xref="paper",
        yref="paper",
        x=1.0 if top else 0.0,
        y=1.0 if top else 0.0,
        xanchor="right" if top else "left",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": "#555"},
        text=text,
        name=name,
    )


def _say_decimated(fig: go.Figure, shown: int, total: int, front: int) -> None:
    text = f"{shown} of {total} trials off the front drawn (an even sample); all {front} on it"
    _corner_note(fig, text, "decimated", top=True)


def _cut_axis(fig: go.Figure, info: ParetoInfo, cut: AxisCut) -> None:
    """Start the accuracy axis at the cut and say on the chart which trials are under it."""
    top = max(p.accuracy for p in info.points)
    pad = 0.06 * (top - cut.floor) or 0.01
    scale = info.axis.scale
    fig.update_yaxes(range=[_r(scale * (cut.floor - pad)), _r(scale * (top + pad))])
    low = cut.below[0]
    n = len(cut.below)
    text = (
        f"▼ axis cut: {n} trial{'s' if n > 1 else ''} below, lowest "
        f"{info.axis.fmt(low.accuracy)}{' %' if info.axis.percent else ''} at "
        f"{low.latency_ms:.3f} ms (trial {low.number})"
    )
    _corner_note(fig, text, "axis-cut", top=False)


def _steps(points: Sequence[AnytimePoint]) -> list[AnytimePoint]:
    """The points where either curve changes, and the last one.

    Both curves are drawn as steps (``shape="hv"``), so this draws exactly the same lines; a
    5,000-trial study has a few dozen improvements, not 5,000.
    """
    out: list[AnytimePoint] = []
    for i, p in enumerate(points):
        prev = out[-1] if out else None
        last = i == len(points) - 1
        if (
            prev is None
            or last
            or (p.best_accuracy, p.hypervolume)
            != (
                prev.best_accuracy,
                prev.hypervolume,
            )
        ):
            out.append(p)
    return out


def plot_anytime(info: AnytimeInfo, title: str = "Progress") -> go.Figure:
    """Best-so-far accuracy and dominated hypervolume against trial number."""
    if not info.points:
        return empty_figure("no completed trials yet", title)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    pts = _steps(info.points)
    x = [p.trial for p in pts]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[_r(info.axis.scale * p.best_accuracy, 6) for p in pts],
            name=f"best {info.axis.title}",
            mode="lines",
            line={"shape": "hv", "color": PALETTE[0]},
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[_r(p.hypervolume, 6) for p in pts],
            name=f"hypervolume (ref {info.ref_ms:.3g} ms)",
            mode="lines",
            line={"shape": "hv", "color": PALETTE[2]},
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title="trial number")
    fig.update_yaxes(title=f"best {info.axis.title}", secondary_y=False)
    hv_unit = "acc × ms" if info.axis.percent else "score × ms"
    fig.update_yaxes(title=f"hypervolume ({hv_unit})", secondary_y=True, showgrid=False)
    return _layout(fig, title, height=340, legend={"orientation": "h", "y": -0.3})


def plot_latency(info: LatencyInfo, title: str = "Latency") -> go.Figure:
    """Distribution of median latencies, and of the run-to-run spread of each measurement."""
    if not info.latency_ms:
        return empty_figure("no completed trials yet", title)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("median latency", "spread p10–p90"))
    fig.add_trace(
        go.Histogram(
            x=[_r(v) for v in info.latency_ms], name="latency", marker={"color": PALETTE[0]}
        ),
        row=1,
        col=1,
    )
    if info.spread_pct:
        fig.add_trace(
            go.Histogram(
                x=[_r(v, 3) for v in info.spread_pct], name="spread", marker={"color": PALETTE[4]}
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title="ms", row=1, col=1)
    fig.update_xaxes(title="% of median", row=1, col=2)
    fig.update_yaxes(title="trials", row=1, col=1)
    src = ", ".join(f"{k} {v}" for k, v in sorted(info.sources.items()))
    return _layout(fig, f"{title} ({src})", height=340, showlegend=False, bargap=0.05)


def plot_importance(info: ImportanceInfo, title: str = "Parameter importance") -> go.Figure:
    if not info.importances:
        return empty_figure(info.message or "no importances", title)
    fig = go.Figure()
    first = next(iter(info.importances.values()))
    params = sorted(first, key=first.get, reverse=True)[:15][::-1]  # type: ignore[arg-type]
    for k, (name, imp) in enumerate(info.importances.items()):
        fig.add_trace(
            go.Bar(
                y=params,
                x=[imp.get(p, 0.0) for p in params],
                name=name,
                orientation="h",
                marker={"color": PALETTE[k % len(PALETTE)]},
            )
        )
    fig.update_xaxes(title="importance for reaching the top 10 % (PED-ANOVA, normalised)")
    return _layout(
        fig,
        title + (f" — {info.message}" if info.message else ""),
        barmode="group",
        height=max(300, 28 * len(params) + 120),
        margin={"l": 160, "r": 20, "t": 50, "b": 50},
    )


# ---- architecture ----------------------------------------------------------------------------
def plot_arch(
    info: ArchInfo,
    title: str = "Architecture",
    options: Mapping[str, Sequence[object]] | None = None,
) -> go.Figure:
    """The network's picture; ``options`` (a chain space's per-layer choices, by key: see
    :func:`dashboard.arch.layer_options`) fixes the colour scale to the space's kernels."""
    if isinstance(info, ChainArch):
        return plot_chain(info, title, options)
    if isinstance(info, CellArch):
        return plot_cell(info, title)
    return plot_plain(info, title)


def _op_numbers(layer: dict[str, int | str]) -> dict[str, int | str]:
    """A ``layer_ops`` layer (``{"op": "k3e6"}``) as kernel and expansion; identity 0 and 0."""
    op = layer.get("op")
    if not isinstance(op, str):
        return layer
    m = re.fullmatch(r"k(\d+)e(\d+)", op)
    return {"kernel": int(m[1]), "expand": int(m[2])} if m else {"kernel": 0, "expand": 0}


def plot_chain(
    info: ChainArch,
    title: str = "Architecture",
    options: Mapping[str, Sequence[object]] | None = None,
) -> go.Figure:
    """One bar per active layer: height the expansion ratio, colour the kernel size.

    Stages and layers are named as the space's labels name them (``stage0.layer1.kernel``).
    The colour scale spans the space's options for the coloured key, so a colour means the
    same kernel in every network; without them, the ones this network uses. An identity layer
    of a ``layer_ops`` space has no bar."""
    keys = info.layer_keys
    if "op" in keys:
        keys = ("kernel", "expand")
    height_key = "expand" if "expand" in keys else (keys[0] if keys else "")
    color_key = "kernel" if "kernel" in keys else (keys[1] if len(keys) > 1 else height_key)
    xs, ys, colors, texts, ticks = [], [], [], [], []
    for i, stage in enumerate(info.stages):
        for j, layer in enumerate(stage):
            numbers = _op_numbers(layer)
            xs.append(f"stage{i}.layer{j}")
            ticks.append(f"layer{j}")
            ys.append(numbers.get(height_key, 1))
            colors.append(numbers.get(color_key, 0))
            texts.append(
                str(layer["op"])
                if "op" in layer
                else " ".join(f"{k[0]}{v}" for k, v in layer.items())
            )
    scale = [v for v in (options or {}).get(color_key, ()) if isinstance(v, (int, float))]
    colorbar: dict[str, object] = {"title": {"text": color_key}, "thickness": 12}
    marker: dict[str, object] = {"color": colors, "colorscale": "Viridis", "colorbar": colorbar}
    if len(scale) >= 2:
        marker.update(cmin=min(scale), cmax=max(scale))
        colorbar.update(tickvals=sorted(scale))
    fig = go.Figure(
        go.Bar(
            x=xs,
            y=ys,
            text=texts,
            textposition="outside",
            marker=marker,
            hovertemplate=f"%{{x}}: %{{text}}<extra>{height_key} %{{y}}</extra>",
        )
    )
    _mark_stages(fig, info)
    ymax = max(ys, default=1)
    fig.update_yaxes(title=height_key, range=[0, 1.3 * float(ymax)])  # type: ignore[arg-type]
    fig.update_xaxes(type="category", title="layer", tickvals=xs, ticktext=ticks)
    return _layout(
        fig, title, height=320, showlegend=False, margin={"l": 60, "r": 20, "t": 80, "b": 50}
    )


def _mark_stages(fig: go.Figure, info: ChainArch) -> None:
    """Shade every other stage behind its bars and name each stage, its depth and width."""
    start = 0
    for i, depth in enumerate(info.depths):
        if i % 2 == 0 and depth:
            fig.add_vrect(
                x0=start - 0.5,
                x1=start + depth - 0.5,
                fillcolor="#eeeeee",
                line_width=0,
                layer="below",
            )
        fig.add_annotation(
            x=start + (depth - 1) / 2 if depth else start - 0.5,
            y=1.0,
            yref="paper",
            text=f"stage{i}<br>depth {depth}"
            + (f", width {info.widths[i]}" if i < len(info.widths) and info.widths[i] else ""),
            showarrow=False,
            font={"size": 11},
            yanchor="bottom",
        )
        start += depth


def plot_cell(info: CellArch, title: str = "Cell") -> go.Figure:
    """The cell DAG: nodes on a line, each edge an arc labelled with its operation."""
    fig = go.Figure()
    for (i, j), op in sorted(info.edges.items()):
        d = i - j
        h = 0.45 * d * (1 if d % 2 else -1)
        color = OP_COLORS.get(op, "#555555")
        dash = "dot" if op == "none" else "solid"
        fig.add_shape(
            type="path",
            path=f"M {j},0 Q {(i + j) / 2},{h} {i},0",
            line={"color": color, "width": 1 if op == "none" else 3, "dash": dash},
            layer="below",
        )
        fig.add_annotation(
            x=(i + j) / 2,
            y=h / 2,
            text=op,
            showarrow=False,
            font={"size": 11, "color": color},
            bgcolor="rgba(255,255,255,0.85)",
        )
    nodes = list(range(info.nodes))
    labels = ["in" if n == 0 else "out" if n == info.nodes - 1 else str(n) for n in nodes]
    fig.add_trace(
        go.Scatter(
            x=nodes,
            y=[0] * len(nodes),
            mode="markers+text",
            text=labels,
            textposition="middle center",
            marker={"size": 34, "color": "white", "line": {"color": "#333", "width": 2}},
            hoverinfo="skip",
        )
    )
    ext = 0.45 * (info.nodes - 1) / 2 + 0.3
    fig.update_xaxes(visible=False, range=[-0.5, info.nodes - 0.5])
    fig.update_yaxes(visible=False, range=[-ext, ext])
    return _layout(fig, title, height=320, showlegend=False)


def plot_plain(info: PlainArch, title: str = "Architecture") -> go.Figure:
    if not info.items:
        return empty_figure("this trial has no architecture recorded", title)
    fig = go.Figure(
        go.Table(
            header={"values": ["choice", "value"]},
            cells={"values": [[k for k, _ in info.items], [v for _, v in info.items]]},
        )
    )
    return _layout(fig, title, height=320)


# ---- compare ---------------------------------------------------------------------------------
def plot_compare_fronts(info: CompareInfo, title: str = "Pareto fronts") -> go.Figure:
    if not any(info.fronts):
        return empty_figure("none of these studies has completed trials", title)
    fig = go.Figure()
    for k, (name, front) in enumerate(zip(info.names, info.fronts, strict=True)):
        fig.add_trace(
            _scatter(
                front,
                name,
                axis=info.axis,
                mode="lines+markers",
                line={"shape": "hv", "color": PALETTE[k % len(PALETTE)]},
            )
        )
    fig.update_xaxes(title="latency (ms, median)")
    fig.update_yaxes(title=info.axis.title)
    t = title + (f" — note: {info.note}" if info.note else "")
    return _layout(fig, t, height=420, hovermode="closest", showlegend=True)


def plot_compare_anytime(info: CompareInfo, title: str = "Progress") -> go.Figure:
    if not any(a.points for a in info.anytime):
        return empty_figure("none of these studies has completed trials", title)
    titles = (f"best {info.axis.title}", "hypervolume")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    for k, (name, a) in enumerate(zip(info.names, info.anytime, strict=True)):
        color = PALETTE[k % len(PALETTE)]
        x = [p.completed for p in a.points]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[info.axis.scale * p.best_accuracy for p in a.points],
                name=name,
                mode="lines",
                line={"shape": "hv", "color": color},
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p.hypervolume for p in a.points],
                name=name,
                mode="lines",
                line={"shape": "hv", "color": color},
                legendgroup=name,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title="completed trials")
    return _layout(fig, f"{title} (hypervolume reference {info.ref_ms:.3g} ms)", height=380)


# ---- hardware --------------------------------------------------------------------------------
def plot_predicted(info: HardwareInfo, title: str = "Predicted vs measured latency") -> go.Figure:
    if not info.pairs:
        src = ", ".join(f"{v} {k}" for k, v in sorted(info.sources.items())) or "none"
        return empty_figure(
            f"no predicted latencies to check against measurements (trial latencies: {src})", title
        )
    p = [x.predicted_ms for x in info.pairs]
    m = [x.measured_ms for x in info.pairs]
    lo, hi = min(p + m), max(p + m)
    fig = go.Figure(
        go.Scatter(
            x=m,
            y=p,
            mode="markers",
            customdata=[x.number for x in info.pairs],
            hovertemplate="trial %{customdata}: measured %{x:.3f} ms, predicted %{y:.3f} ms"
            "<extra></extra>",
            marker={"color": PALETTE[0]},
        )
    )
    fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line={"dash": "dash", "color": "#888"})
    fig.update_xaxes(title="measured (ms)")
    fig.update_yaxes(title="predicted (ms)")
    fit = f"R² {_fmt(info.r2, '.3f')}, MAPE {_fmt(info.mape_pct, '.1f')} %"
    return _layout(fig, f"{title} — {fit}", height=360, showlegend=False)


def plot_latency_cache(info: HardwareInfo, title: str = "Latency cache") -> go.Figure:
    if not info.cache_ms:
        return empty_figure("the latency cache holds no measurements for this target", title)
    fig = go.Figure(go.Histogram(x=[_r(v) for v in info.cache_ms], marker={"color": PALETTE[5]}))
    fig.update_xaxes(title="cached median latency (ms)")
    fig.update_yaxes(title="networks")
    n_targets = len(info.cache_targets)
    every = f"{sum(info.cache_targets.values())} in all, {n_targets} target"
    return _layout(
        fig,
        # two short lines: one long line ran under the chart's mode bar
        f"{title}: {len(info.cache_ms)} of this target<br>"
        f"<sup>{every}{'s' if n_targets != 1 else ''}</sup>",
        height=340,
        showlegend=False,
    )


def profile_command(space: str, url: str) -> str:
    """The command that profiles a lookup table (what an empty table chart shows)."""
    return f"nas hardware profile --space {space} --target cpu --storage {url}"


def plot_no_lut(command: str, title: str = "Latency lookup table") -> go.Figure:
    return empty_figure(f"no latency lookup table stored; profile one with<br>{command}", title)


def _held_out(f: FitInfo) -> str:
    """The fit's validation in a few words (the table under the chart has the figures)."""
    v = f.validation
    if v is None:
        return "not validated: refused by searches"
    verdict = "refused by searches" if f.failures else "passed"
    error = f"median error {100 * v.median_rel_error:.1f} %"
    return f"held-out tau {v.kendall_tau:.3f} on {v.n}, {error}: {verdict}"


def plot_lut(info: LutInfo, title: str = "Latency lookup table") -> go.Figure:
    """The table as a heatmap: block position (rows) x block option (columns), ms per cell.

    Stem and head are single entries, so they are listed in the title; the fit of the
    predictor built on the table (``a * sum + b``) is there too.
    """
    if not info.rows:
        return empty_figure("this lookup table has no block entries", title)
    z = [[None if v is None else _r(v) for v in row] for row in info.ms]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(info.columns),
            y=list(info.rows),
            colorscale="Viridis",
            colorbar={"title": {"text": "ms"}, "thickness": 12},
            texttemplate="%{z:.3g}",
            hovertemplate="%{y}<br>%{x}: %{z:.4f} ms<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")  # the network's order, top to bottom
    fixed = " · ".join(f"{label}: {ms:.3f} ms" for label, ms in info.fixed)
    fits = " · ".join(
        f"fit ({f.num_classes} classes, {f.n} networks): {f.a:.3f}·sum {f.b:+.3f} ms, "
        f"R² {_fmt(f.r2, '.3f')}, MAPE {_fmt(f.mape_pct, '.1f')} %; {_held_out(f)}"
        for f in info.fits
    )
    sub = "<br>".join(x for x in (fixed, fits or "no predictor fit stored") if x)
    target, space = info.target or info.fingerprint_id, info.space or info.space_digest[:8]
    head = f"{title} — target {target}, space {space}"
    return _layout(
        fig,
        f"{head}<br><span style='font-size:11px'>{sub}</span>",
        height=max(320, 26 * len(info.rows) + 160),
        margin={"l": 260, "r": 20, "t": 100, "b": 50},
    )
