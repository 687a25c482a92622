"""The live dashboard: a Dash app over one storage, opened read-only.

Pages: ``/`` lists the studies and compares several of them; ``/study/<name>`` shows one
study (Pareto front, progress, latency, the picked network, parameter importance, hardware).
Each page polls :func:`nas.storage.progress.signature` and redraws only when a trial was added
or finished, so it follows a search running in another process without re-reading thousands of
trials every few seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import arch as arch_mod
from dashboard import figures as fg
from dashboard import info
from dashboard.data import Reader, StudyData
from nas.errors import NasInputError
from nas.storage import keys
from nas.storage.summaries import StudySummary

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
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
}


def study_path(name: str) -> str:
    return "/study/" + quote(name, safe="")


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


def studies_table(rows: list[StudySummary], url: str) -> html.Div:
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
                html.Td(dcc.Link(r.name, href=study_path(r.name))),
                html.Td(r.space),
                html.Td(r.strategy),
                html.Td(r.target),
                html.Td(r.objective),
                html.Td(f"{r.complete} / {r.budget if r.budget is not None else '?'}"),
                html.Td(str(r.running)),
                html.Td(str(r.failed)),
                html.Td(_pct(r.best_accuracy)),
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


def study_skeleton(name: str, refresh_ms: int) -> html.Div:
    def graph(gid: str) -> dcc.Graph:
        # a message, not an empty frame, until the first callback fills it
        return dcc.Graph(id=gid, config=GRAPH_CONFIG, figure=fg.empty_figure("loading…"))

    return html.Div(
        [
            dcc.Interval(id="study-tick", interval=refresh_ms),
            dcc.Store(id="study-sig"),
            dcc.Store(id="study-name", data=name),
            dcc.Link("← all studies", href="/"),
            html.Div(id="study-header"),
            html.Div(
                [_col("7", graph("pareto-graph")), _col("5", html.Div(id="arch-view"))], style=ROW
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
    else:
        lines.append(html.P("not a nas study: settings unknown; charts use trial attributes"))
    return html.Div(lines)


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
    metrics_line = (
        f"accuracy {100 * p.accuracy:.2f} % · latency {p.latency_ms:.3f} ms"
        + (
            f" (p10 {p.p10_ms:.3f} – p90 {p.p90_ms:.3f})"
            if p.p10_ms is not None and p.p90_ms is not None
            else ""
        )
        + f" · params {fg._fmt(p.params_m, '.3f')} M · {fg._fmt(p.flops_m, '.1f')} MFLOPs"
        + f" · latency {ua.get(keys.LATENCY_SOURCE, 'measured')}"
        if p is not None
        else "no accuracy/latency recorded"
    )
    return html.Div(
        [
            html.H3(f"Trial {number}" + (f" ({why})" if why else ""), id="arch-title"),
            html.P(metrics_line),
            html.Div(str(ua.get(keys.ARCH_STR, "")), style=MONO),
            dcc.Graph(
                id="arch-graph",
                figure=fg.plot_arch(arch_mod.arch_info(arch or {}), "Network"),
                config=GRAPH_CONFIG,
            ),
            html.P("Export this network:"),
            html.Pre(arch_mod.export_command(d.name, number, url), id="export-cmd", style=MONO),
        ]
    )


def _problem(exc: Exception) -> html.Div:
    if isinstance(exc, NasInputError):
        return not_found(str(exc))
    return html.Div(
        [dcc.Link("← all studies", href="/"), html.H3("Cannot read this study"), html.P(str(exc))],
        style=CARD,
    )


def not_found(message: str) -> html.Div:
    return html.Div(
        [dcc.Link("← all studies", href="/"), html.H3("Study not found"), html.P(message)],
        style=CARD,
        id="study-missing",
    )


# ---- the app ---------------------------------------------------------------------------------
def _importance_job(url: str, name: str) -> info.ImportanceInfo:
    """Run in a worker process (see :class:`_Importance`)."""
    reader = Reader(url)
    return info.importance_info(reader.study(name), reader.importance_study(name))


class _Importance:
    """Importance is the slowest chart (seconds of CPU for big studies).

    It runs in one worker process, so it does not hold the server's GIL while other pages are
    drawn, and is recomputed only after the study grew by 10 %.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._done: dict[str, tuple[int, info.ImportanceInfo]] = {}
        self._pool: Any = None

    def _executor(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with self._lock:
            if self._pool is None:
                # spawn: forking a threaded web server is unsafe
                ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=ctx,
                    initializer=_exit_with_parent,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def get(self, d: StudyData) -> info.ImportanceInfo:
        n = len(d.complete)
        with self._lock:
            hit = self._done.get(d.name)
        if hit is not None and (n == hit[0] or n < hit[0] * 1.1):
            return hit[1]
        res: info.ImportanceInfo = (
            self._executor().submit(_importance_job, self.url, d.name).result()
        )
        with self._lock:
            self._done[d.name] = (n, res)
        return res


def _exit_with_parent(parent: int) -> None:
    """In the importance worker: end when the dashboard process is gone (even after SIGKILL,
    which leaves no chance to shut the pool down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _safe(
    fallback: Callable[[Exception], Any],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Show a one-line reason instead of a traceback when a callback fails."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any) -> Any:
            try:
                return fn(*args)
            except dash.exceptions.PreventUpdate:
                raise
            except NasInputError as exc:
                return fallback(exc)
            except Exception as exc:  # a dashboard must keep serving; the log has the details
                log.exception("dashboard callback %s failed", fn.__name__)
                return fallback(exc)

        inner.__name__ = fn.__name__
        return inner

    return wrap


def create_app(url: str, *, refresh_seconds: float = REFRESH_SECONDS) -> Dash:
    """The Dash app for the storage at ``url`` (opened read-only).

    Raises:
        StorageError: the storage cannot be opened.
    """
    reader = Reader(url)
    fg.warm_up()
    importance = _Importance(url)
    refresh_ms = int(refresh_seconds * 1000)
    app = Dash(
        __name__,
        title="nas dashboard",
        update_title=None,  # type: ignore[arg-type]  # None: keep the title while updating
        suppress_callback_exceptions=True,
        serve_locally=True,  # nothing is fetched from a CDN
    )
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                [
                    html.B("nas dashboard"),
                    html.Span(
                        f"  {url} · read-only · refreshes every {refresh_seconds:g} s",
                        style={"color": "#666"},
                    ),
                ],
                style={"padding": "8px"},
            ),
            html.Div(id="page"),
        ],
        style={"fontFamily": "sans-serif", "background": "#fafafa", "padding": "6px"},
    )

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> Any:
        path = pathname or "/"
        if path.startswith("/study/"):
            name = unquote(path[len("/study/") :])
            names = reader.names()
            if name not in names:
                here = ", ".join(names[:10]) if names else "none"
                return not_found(f"no study named {name!r} in {url}; studies here: {here}")
            return study_skeleton(name, refresh_ms)
        return home_skeleton(refresh_ms)

    # ---- home ----------------------------------------------------------------------------
    @app.callback(
        Output("home-sig", "data"), Input("home-tick", "n_intervals"), State("home-sig", "data")
    )
    def home_poll(_n: int | None, old: str | None) -> Any:
        sig = reader.signature()
        return no_update if sig == old else sig

    @app.callback(
        Output("studies-view", "children"),
        Output("compare-select", "options"),
        Output("compare-select", "value"),
        Input("home-sig", "data"),
        State("compare-select", "value"),
    )
    @_safe(lambda e: (html.P(f"cannot read the storage: {e}"), [], []))
    def home(_sig: str | None, chosen: list[str] | None) -> Any:
        rows = reader.summaries()
        names = [r.name for r in rows]
        if chosen is None or not set(chosen) <= set(names):
            # default: the studies that share the most common space, up to four
            spaces = [r.space for r in rows]
            common = max(set(spaces), key=spaces.count) if spaces else None
            chosen = [r.name for r in rows if r.space == common][:4]
        return studies_table(rows, url), names, chosen

    @app.callback(
        Output("compare-fronts", "figure"),
        Output("compare-anytime", "figure"),
        Input("compare-select", "value"),
        Input("home-sig", "data"),
    )
    @_safe(lambda e: (fg.empty_figure(f"cannot compare: {e}"),) * 2)
    def compare(chosen: list[str] | None, _sig: str | None) -> Any:
        if not chosen:
            msg = "pick studies above to compare their fronts and progress"
            return fg.empty_figure(msg, "Pareto fronts"), fg.empty_figure(msg, "Progress")
        c = info.compare_info([reader.study(n) for n in chosen])
        return fg.plot_compare_fronts(c), fg.plot_compare_anytime(c)

    # ---- one study -----------------------------------------------------------------------
    @app.callback(
        Output("study-sig", "data"),
        Output("study-header", "children"),
        Output("pareto-graph", "figure"),
        Output("anytime-graph", "figure"),
        Output("latency-graph", "figure"),
        Output("predicted-graph", "figure"),
        Output("cache-graph", "figure"),
        Input("study-tick", "n_intervals"),
        State("study-name", "data"),
        State("study-sig", "data"),
    )
    @_safe(lambda e: ("error", _problem(e)) + (fg.empty_figure(str(e)),) * 5)
    def study_main(_n: int | None, name: str, old: str | None) -> Any:
        # polled: a cheap signature first, the charts only when a trial was added or finished
        sig = reader.signature(name)
        if sig == old:
            return (no_update,) * 7
        d = reader.study(name)
        p = info.pareto_info(d)
        hw = info.hardware_info(d, reader.latency_rows())
        return (
            sig,
            study_header(d),
            fg.plot_pareto(p, selected=p.knee, label="knee: trial"),
            fg.plot_anytime(info.anytime_info(d)),
            fg.plot_latency(info.latency_info(d)),
            fg.plot_predicted(hw),
            fg.plot_latency_cache(hw),
        )

    @app.callback(
        Output("arch-view", "children"),
        Input("pareto-graph", "clickData"),
        Input("study-sig", "data"),
        State("study-name", "data"),
    )
    @_safe(lambda e: html.P(f"cannot show the architecture: {e}"))
    def arch_view(click: dict | None, _sig: str | None, name: str) -> Any:
        d = reader.study(name)
        number, why = _clicked(click), "clicked"
        if number is None:
            number, why = info.pareto_info(d).knee, "knee of the front"
        return arch_panel(d, number, url, why)

    # Importance is the slow chart: start it only after the Pareto figure has been drawn, so
    # the first render does not wait for it (and it follows every refresh of that figure).
    @app.callback(
        Output("importance-graph", "figure"),
        Input("pareto-graph", "figure"),
        State("study-name", "data"),
        prevent_initial_call=True,
    )
    @_safe(lambda e: fg.empty_figure(f"parameter importance unavailable: {e}"))
    def importance_view(_fig: Any, name: str) -> Any:
        return fg.plot_importance(importance.get(reader.study(name)))

    return app


def _clicked(click: dict | None) -> int | None:
    if not click or not click.get("points"):
        return None
    cd = click["points"][0].get("customdata")
    if isinstance(cd, list):
        cd = cd[0] if cd else None
    return int(cd) if isinstance(cd, int | float) else None
