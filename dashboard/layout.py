"""The dashboard's page components: the studies table, the study page and its panels.

Pure functions of the data read through :mod:`dashboard.data`; the callbacks that place them
live in :mod:`dashboard.app`, the per-study caches in :mod:`dashboard.views`.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from dash import dcc, html

from dashboard import arch as arch_mod
from dashboard import figures as fg
from dashboard import info
from dashboard.data import Reader, StudyData
from nas.analysis import evidence
from nas.analysis.axis import AccuracyAxis, axis_of_trial
from nas.analysis.next_steps import export_refusal
from nas.analysis.summaries import StudySummary
from nas.errors import NasInputError
from nas.storage import keys


class PageView(Protocol):
    """What :func:`study_page` reads of a study (dashboard.views.StudyView is one)."""

    sig: str

    def figure(self, gid: str) -> Any: ...
    def header(self) -> html.Div: ...


GRAPH_CONFIG: Any = {"displaylogo": False}
CARD = {
    "background": "white",
    "border": "1px solid #ddd",
    "borderRadius": "6px",
    "padding": "10px",
    "margin": "8px",
}
ROW = {"display": "flex", "flexWrap": "wrap", "alignItems": "stretch"}
MONO = {
    "fontFamily": "monospace",
    "background": "#f4f4f4",
    "padding": "6px",
    "whiteSpace": "pre-wrap",
    "overflowWrap": "anywhere",  # an nb201 cell string has no space to break at
}


def study_path(name: str, base: str = "/") -> str:
    """The page of study ``name`` under the dashboard's ``base`` path (``/`` or ``/x/``)."""
    return f"{base}study/" + quote(name, safe="")


def _col(width: str, *children: Any, **kw: Any) -> html.Div:
    return html.Div(list(children), style={**CARD, "flex": width, "minWidth": "320px"}, **kw)


def _state(s: StudySummary) -> str:
    if s.running:
        return "running"
    if s.budget is not None and s.complete >= s.budget:
        return "done"
    return "stopped" if s.complete else "empty"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


# ---- pages -----------------------------------------------------------------------------------
def home_skeleton(refresh_ms: int) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id="home-tick", interval=refresh_ms),
            dcc.Store(id="home-sig"),
            html.Div(id="studies-view", style=CARD),
            html.Div(
                [
                    html.H3("Compare studies"),
                    dcc.Dropdown(id="compare-select", multi=True, placeholder="pick studies"),
                    dcc.Graph(id="compare-fronts", config=GRAPH_CONFIG),
                    dcc.Graph(id="compare-anytime", config=GRAPH_CONFIG),
                ],
                id="compare-view",
                style=CARD,
            ),
        ]
    )


def studies_table(rows: list[StudySummary], url: str, base: str = "/") -> html.Div:
    if not rows:
        return html.Div(
            [
                html.H3("No studies yet"),
                html.P(f"The storage {url} holds no study. Start a search with:"),
                html.Pre(f"nas search --space mobile --budget 200 --storage {url}", style=MONO),
                html.P("This page refreshes by itself and shows the study as it runs."),
            ],
            id="empty-studies",
        )
    head = [
        "study",
        "space",
        "strategy",
        "target",
        "objective",
        "trials / budget",
        "running",
        "failed",
        "best acc %",
        "Pareto size",
        "state",
        "created",
    ]
    body = [
        html.Tr(
            [
                html.Td(dcc.Link(r.name, href=study_path(r.name, base))),
                html.Td(r.space),
                html.Td(r.strategy),
                html.Td(r.target),
                html.Td(r.objective),
                html.Td(f"{r.complete} / {r.budget if r.budget is not None else '?'}"),
                html.Td(str(r.running)),
                html.Td(str(r.failed)),
                html.Td(_best(r.best_accuracy, evidence.axis_of_run(r.evaluator, r.strategy))),
                html.Td(str(r.front_size)),
                html.Td(_state(r)),
                html.Td(r.created),
            ],
            className="study-row",
        )
        for r in rows
    ]
    return html.Div(
        [
            html.H3(f"Studies ({len(rows)})"),
            html.Table(
                [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                id="studies-table",
                style={"borderCollapse": "collapse", "width": "100%", "textAlign": "left"},
            ),
        ]
    )


STUDY_GRAPHS = ("pareto-graph", "anytime-graph", "latency-graph", "predicted-graph", "cache-graph")
# Drawn from the first layout. The browser draws every chart of a response in one go (one long
# task), so the others follow in the page's first poll and the Pareto front shows ~0.5 s sooner.
FIRST_PAINT = ("pareto-graph",)


def lut_graphs(reader: Reader, d: StudyData) -> list[Any]:
    """Each lookup table as a heatmap, with its predictor fits and their validation below."""
    infos = info.lut_infos(reader.lookup_tables(), d)
    if not infos:
        space = d.settings.space if d.settings is not None else "mobile"
        fig = fg.plot_no_lut(fg.profile_command(space, reader.url))
        return [dcc.Graph(id="lut-graph", figure=fig, config=GRAPH_CONFIG)]
    out: list[Any] = []
    for k, i in enumerate(infos):
        suffix = f"-{k}" if k else ""
        out.append(dcc.Graph(id=f"lut-graph{suffix}", figure=fg.plot_lut(i), config=GRAPH_CONFIG))
        out.append(fit_table(i, f"lut-fit{suffix}"))
    return out


def fit_table(i: info.LutInfo, table_id: str) -> html.Div:
    """The predictor fits of one table: the correction and its validation on held-out
    networks, and whether a search uses it or refuses it (and why)."""
    rows = info.fit_rows(i)
    if not rows:
        return html.Div(html.P("no predictor fit stored for this table"), id=table_id)
    body = [
        html.Tr(
            [html.Td(c) for c in r[:-1]]
            + [html.Td(r[-1], style={"color": "#1a7f37" if ok else "#b42318"})],
            className="fit-row " + ("fit-passed" if ok else "fit-refused"),
        )
        for r, ok in zip(rows, (not f.failures for f in i.fits), strict=True)
    ]
    return html.Div(
        [
            html.H4("Latency predictor fits and their validation on held-out networks"),
            html.Table(
                [html.Thead(html.Tr([html.Th(h) for h in info.FIT_HEAD])), html.Tbody(body)],
                style={"borderCollapse": "collapse", "width": "100%", "textAlign": "left"},
            ),
        ],
        id=table_id,
    )


def study_page(view: PageView, name: str, refresh_ms: int, base: str = "/") -> html.Div:
    """The whole study page, charts included, so the browser draws it from the layout it
    fetches first instead of after a chain of callbacks."""

    def graph(gid: str) -> dcc.Graph:
        fig = view.figure(gid) if gid in FIRST_PAINT else fg.loading_figure()
        return dcc.Graph(id=gid, config=GRAPH_CONFIG, figure=fig)

    return html.Div(
        [
            dcc.Interval(id="study-tick", interval=refresh_ms),
            dcc.Store(id="study-sig", data=view.sig),
            dcc.Store(id="study-name", data=name),
            dcc.Link("← all studies", href=base),
            html.Div(view.header(), id="study-header"),
            html.Div(
                [
                    _col("7", graph("pareto-graph")),
                    _col("5", html.Div(html.P("loading…"), id="arch-view")),
                ],
                style=ROW,
            ),
            html.Div(
                [_col("1", graph("anytime-graph")), _col("1", graph("latency-graph"))], style=ROW
            ),
            html.Div(
                [
                    _col("1", graph("importance-graph")),
                    _col("1", graph("predicted-graph"), graph("cache-graph")),
                ],
                style=ROW,
            ),
            html.Div([_col("1", html.Div(html.P("loading…"), id="lut-view"))], style=ROW),
        ]
    )


def study_header(d: StudyData) -> html.Div:
    s = d.settings
    from optuna.trial import TrialState

    parts = [
        f"{len(d.complete)} complete / {d.budget if d.budget is not None else '?'} budget",
        f"{d.count(TrialState.RUNNING)} running",
        f"{d.count(TrialState.FAIL)} failed",
    ]
    lines = [html.H2(d.name), html.P(" · ".join(parts), id="study-progress")]
    if s is not None:
        setting = (
            f"space {s.space} · strategy {s.strategy} · target {s.target} · objective "
            f"{s.objective}"
            + (f" · max latency {s.max_latency_ms:g} ms" if s.max_latency_ms else "")
        )
        lines.append(html.P(setting))
        # where accuracy and latency were measured, what the accuracy is, how far to trust it
        fidelity = evidence.fidelity_lines(s)
        for extra, id_ in (
            (s.input_line(), "study-inputs"),
            (evidence.accuracy_note(s), "study-accuracy"),
            *zip(fidelity, ("study-fidelity", "study-fidelity-own"), strict=False),
        ):
            if extra:
                lines.append(html.P(extra, id=id_))
        if d.anchors:
            lines.append(html.P(evidence.anchor_note(s), id="study-anchors"))
    else:
        lines.append(html.P("not a nas study: settings unknown; charts use trial attributes"))
    return html.Div(lines)


def _best(value: float | None, axis: AccuracyAxis) -> str:
    """A study's best: percent (``84.85 (inherited acc)`` for a supernet study), or a
    zero-cost score named as such."""
    if value is None or axis == AccuracyAxis():
        return _pct(value)
    return f"{axis.fmt(value)} ({axis.name})"


def _accuracy_text(value: float, axis: AccuracyAxis) -> str:
    return f"{axis.name} {axis.fmt(value)}" + (" %" if axis.percent else "")


def arch_panel(d: StudyData, number: int | None, url: str, why: str = "") -> html.Div:
    if number is None:
        return html.Div(
            [html.H3("Architecture"), html.P("no completed trial to show yet")], id="arch-empty"
        )
    t = d.trial(number)
    if t is None:
        return html.Div([html.H3("Architecture"), html.P(f"trial {number} is not in this study")])
    p = info.point(t) if keys.ACCURACY in t.user_attrs else None
    ua = t.user_attrs
    arch = ua.get(keys.ARCH) if isinstance(ua.get(keys.ARCH), dict) else t.params
    axis = axis_of_trial(ua)  # a zero-cost trial names its proxy; else the study's axis
    axis = evidence.axis_of(d.settings) if axis.percent else axis
    anchor = evidence.anchor_roles(d.anchors, [t]).get(number)
    metrics_line = (
        _accuracy_text(p.accuracy, axis)
        + f" · latency {p.latency_ms:.3f} ms"
        + (
            f" (p10 {p.p10_ms:.3f} – p90 {p.p90_ms:.3f})"
            if p.p10_ms is not None and p.p90_ms is not None
            else ""
        )
        + (" ~ noisy: re-measure on a quiet machine" if p.noisy else "")
        + (f" · {size}" if (size := fg.size_text(p.params_m, p.flops_m)) else "")
        + f" · latency {ua.get(keys.LATENCY_SOURCE, 'measured')}"
        if p is not None
        else "no accuracy/latency recorded"
    )
    return html.Div(
        [
            html.H3(f"Trial {number}" + (f" ({why})" if why else ""), id="arch-title"),
            *(
                [html.P(f"anchor: the space's {anchor} network (scored first)", id="arch-anchor")]
                if anchor
                else []
            ),
            html.P(metrics_line, id="arch-metrics"),
            html.Div(str(ua.get(keys.ARCH_STR, "")), style=MONO, id="arch-str"),
            dcc.Graph(
                id="arch-graph",
                figure=fg.plot_arch(
                    arch_mod.arch_info(arch or {}),
                    "Network",
                    arch_mod.study_layer_options(d.settings),
                ),
                config=GRAPH_CONFIG,
            ),
            *_export(d, number, url),
        ]
    )


def _export(d: StudyData, number: int, url: str) -> list[Any]:
    """The command that exports the trial's network, or why this study has none to export."""
    if why := export_refusal(d.name, d.settings):
        return [html.P(f"Nothing to export: {why}", id="export-none")]
    return [
        html.P("Export this network:"),
        html.Pre(arch_mod.export_command(d.name, number, url), id="export-cmd", style=MONO),
    ]


def problem(exc: Exception, base: str = "/") -> html.Div:
    if isinstance(exc, NasInputError):
        return not_found(str(exc), base)
    return html.Div(
        [
            dcc.Link("← all studies", href=base),
            html.H3("Cannot read this study"),
            html.P(str(exc)),
        ],
        style=CARD,
    )


def not_found(message: str, base: str = "/") -> html.Div:
    return html.Div(
        [dcc.Link("← all studies", href=base), html.H3("Study not found"), html.P(message)],
        style=CARD,
        id="study-missing",
    )
