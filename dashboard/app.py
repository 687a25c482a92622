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
from urllib.parse import quote, unquote, urlparse

import dash
import flask
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import arch as arch_mod
from dashboard import figures as fg
from dashboard import info, plotlyjs
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


STUDY_GRAPHS = ("pareto-graph", "anytime-graph", "latency-graph", "predicted-graph", "cache-graph")
# Drawn from the first layout. The browser draws every chart of a response in one go (one long
# task), so the others follow in the page's first poll and the Pareto front shows ~0.5 s sooner.
FIRST_PAINT = ("pareto-graph",)


class StudyView:
    """What the study page draws for one signature of the study: each part built on first use,
    then shared by every open page (so the first layout waits only for the Pareto figure)."""

    def __init__(self, reader: Reader, name: str, sig: str) -> None:
        self.reader, self.name, self.sig = reader, name, sig
        self.data = reader.study(name)
        self._lock = threading.RLock()  # a part may build on another (the figure on its data)
        self._parts: dict[str, Any] = {}

    def _part(self, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._parts:
                self._parts[key] = build()
            return self._parts[key]

    @property
    def pareto(self) -> info.ParetoInfo:
        return self._part("pareto", lambda: info.pareto_info(self.data))  # type: ignore[no-any-return]

    def header(self) -> html.Div:
        return self._part("header", lambda: study_header(self.data))  # type: ignore[no-any-return]

    def arch(self) -> html.Div:
        """The knee's panel (what the page shows before any click)."""
        knee = self.pareto.knee
        return self._part(  # type: ignore[no-any-return]
            "arch", lambda: arch_panel(self.data, knee, self.reader.url, "knee of the front")
        )

    def figure(self, gid: str) -> Any:
        return self._part(gid, lambda: self._build(gid))

    def lookup_tables(self) -> list[dcc.Graph]:
        """One heatmap per lookup table of the study's space and target (else every table)."""
        return self._part("lut", lambda: lut_graphs(self.reader, self.data))  # type: ignore[no-any-return]

    def _build(self, gid: str) -> Any:
        d = self.data
        if gid == "pareto-graph":
            return fg.plot_pareto(self.pareto, selected=self.pareto.knee, label="knee: trial")
        if gid == "anytime-graph":
            return fg.plot_anytime(info.anytime_info(d))
        if gid == "latency-graph":
            return fg.plot_latency(info.latency_info(d))
        hw = info.hardware_info(d, self.reader.latency_rows())
        return fg.plot_predicted(hw) if gid == "predicted-graph" else fg.plot_latency_cache(hw)


def lut_graphs(reader: Reader, d: StudyData) -> list[dcc.Graph]:
    infos = info.lut_infos(reader.lookup_tables(), d)
    if not infos:
        space = d.settings.space if d.settings is not None else "mobile"
        fig = fg.plot_no_lut(fg.profile_command(space, reader.url))
        return [dcc.Graph(id="lut-graph", figure=fig, config=GRAPH_CONFIG)]
    return [
        dcc.Graph(
            id=f"lut-graph-{k}" if k else "lut-graph", figure=fg.plot_lut(i), config=GRAPH_CONFIG
        )
        for k, i in enumerate(infos)
    ]


def study_page(view: StudyView, name: str, refresh_ms: int) -> html.Div:
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
            dcc.Link("← all studies", href="/"),
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


class _Views:
    """The newest :class:`StudyView` of each study, built once per signature.

    :meth:`prefetch` starts building it when the browser asks for a study's page, so the
    server reads the study while the browser is still loading its scripts.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._done: dict[str, StudyView] = {}

    def get(self, name: str) -> StudyView:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # one build per study at a time; the others wait and share it
            # the signature before the read: a trial added meanwhile means one more redraw
            sig = self.reader.signature(name)
            hit = self._done.get(name)
            if hit is None or hit.sig != sig:
                hit = self._done[name] = StudyView(self.reader, name, sig)
            return hit

    def prefetch(self, name: str) -> None:
        def build() -> None:
            try:
                self.get(name).figure(FIRST_PAINT[0])
            except Exception:  # the page's own request reports it
                log.debug("prefetching study %s failed", name, exc_info=True)

        threading.Thread(target=build, name=f"prefetch-{name}", daemon=True).start()


def _warm(reader: Reader) -> None:
    try:
        for name in reader.names():
            reader.study(name)
    except Exception:  # a page that needs the study reports the problem
        log.debug("warming the study cache failed", exc_info=True)


def _study_name(path: str) -> str | None:
    return unquote(path[len("/study/") :]) if path.startswith("/study/") else None


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
        # assets/ holds only the partial plotly.js: a plain script tag, so it runs before the
        # layout is drawn and dcc.Graph uses it instead of fetching the full plotly.js
        assets_folder=str(plotlyjs.ASSETS),
        include_assets_files=plotlyjs.bundle_usable(),
    )
    views = _Views(reader)
    # Read every study once in the background, as the studies page would: the first page a
    # browser opens then waits for its charts only, not for the trials to be read.
    threading.Thread(target=_warm, args=(reader,), name="warm-up", daemon=True).start()

    def page(path: str) -> html.Div:
        """The page for ``path``, complete; ``page-path`` says which path it shows."""
        name = _study_name(path)
        if name is None:
            content: Any = home_skeleton(refresh_ms)
        elif name not in (names := reader.names()):
            here = ", ".join(names[:10]) if names else "none"
            content = not_found(f"no study named {name!r} in {url}; studies here: {here}")
        else:
            try:
                content = study_page(views.get(name), name, refresh_ms)
            except Exception as exc:  # a dashboard must keep serving; the log has the details
                log.exception("cannot draw study %s", name)
                content = _problem(exc)
        return html.Div([dcc.Store(id="page-path", data=path), content])

    def layout() -> html.Div:
        # Dash fetches the layout from the page it serves, so the Referer is the page's URL:
        # the page is built right here and the browser draws it without a callback round trip.
        path = "/"
        if flask.has_request_context() and flask.request.referrer:
            path = urlparse(flask.request.referrer).path or "/"
        return html.Div(
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
                html.Div(page(path), id="page"),
            ],
            style={"fontFamily": "sans-serif", "background": "#fafafa", "padding": "6px"},
        )

    app.layout = layout

    @app.server.before_request
    def prefetch() -> None:
        # the HTML of a study page: start reading the study while the browser loads scripts
        name = _study_name(flask.request.path)
        if name is not None and flask.request.method == "GET":
            views.prefetch(name)

    @app.callback(Output("page", "children"), Input("url", "pathname"), State("page-path", "data"))
    def route(pathname: str | None, shown: str | None) -> Any:
        # the layout already holds the page the browser asked for; links within the app land here
        path = pathname or "/"
        return no_update if path == shown else page(path)

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
        *(Output(g, "figure") for g in STUDY_GRAPHS),
        Output("lut-view", "children"),
        Input("study-tick", "n_intervals"),
        State("study-name", "data"),
        State("study-sig", "data"),
    )
    @_safe(lambda e: ("error", _problem(e)) + (fg.empty_figure(str(e)),) * 5 + (html.P(str(e)),))
    def study_main(n: int | None, name: str, old: str | None) -> Any:
        # polled: a cheap signature first, the charts only when a trial was added or finished
        changed = reader.signature(name) != old
        if not changed and n:
            return (no_update,) * 8
        v = views.get(name)
        if not changed:  # the call right after the page was drawn: the charts it still lacks
            rest = (no_update if g in FIRST_PAINT else v.figure(g) for g in STUDY_GRAPHS)
            return (no_update, no_update, *rest, v.lookup_tables())
        return (v.sig, v.header(), *(v.figure(g) for g in STUDY_GRAPHS), v.lookup_tables())

    @app.callback(
        Output("arch-view", "children"),
        Input("pareto-graph", "clickData"),
        Input("study-sig", "data"),
        State("study-name", "data"),
    )
    @_safe(lambda e: html.P(f"cannot show the architecture: {e}"))
    def arch_view(click: dict | None, _sig: str | None, name: str) -> Any:
        # after the Pareto figure (its own request), like the charts of the first poll
        number = _clicked(click)
        if number is None:
            return views.get(name).arch()
        return arch_panel(reader.study(name), number, url, "clicked")

    # Importance is the slow chart: its own request once the page is drawn (the page does not
    # wait for it), and again after each refresh of the study.
    @app.callback(
        Output("importance-graph", "figure"),
        Input("study-sig", "data"),
        State("study-name", "data"),
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
