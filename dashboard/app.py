"""The live dashboard: a Dash app over one storage, opened read-only.

Pages: ``/`` lists the studies and compares several of them; ``/study/<name>`` shows one
study (Pareto front, progress, latency, the picked network, parameter importance, hardware).
Each page polls :func:`nas.storage.progress.signature` and redraws only when a trial was added
or finished, so it follows a search running in another process without re-reading thousands of
trials every few seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import dash
import flask
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import figures as fg
from dashboard import info, plotlyjs
from dashboard import views as views_mod
from dashboard.data import Reader
from dashboard.layout import (
    FIRST_PAINT,
    STUDY_GRAPHS,
    arch_panel,
    home_skeleton,
    not_found,
    problem,
    studies_table,
    study_page,
)
from nas.errors import NasInputError

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


def _study_name(path: str) -> str | None:
    """The study a page path (below the dashboard's base) shows; None for the home page."""
    return unquote(path[len("/study/") :]) if path.startswith("/study/") else None


def _below(base: str, path: str) -> str:
    """A path the browser sees (``/dashboard/study/x``) as the app's own (``/study/x``)."""
    return "/" + path[len(base) :] if path.startswith(base) else path


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


@dataclass(frozen=True)
class _Context:
    """What every page and callback of one app reads."""

    reader: Reader
    views: views_mod.Views
    importance: views_mod.Importance
    base: str
    refresh_seconds: float

    @property
    def shown(self) -> str:
        return self.reader.shown  # the URL as pages show it (no password)

    @property
    def refresh_ms(self) -> int:
        return int(self.refresh_seconds * 1000)


def create_app(url: str, *, refresh_seconds: float = REFRESH_SECONDS, base: str = "/") -> Dash:
    """The Dash app for the storage at ``url`` (opened read-only).

    Args:
        base: the path the browser reaches the app under, ``/`` or ``/PREFIX/``; the app's
            own routes stay at ``/`` (a server that mounts it at ``/PREFIX`` strips it, as
            ``nas serve`` does).

    Raises:
        StorageError: the storage cannot be opened.
    """
    reader = Reader(url)
    fg.warm_up()
    importance = views_mod.Importance(url)
    app = Dash(
        __name__,
        title="nas dashboard",
        update_title=None,  # type: ignore[arg-type]  # None: keep the title while updating
        suppress_callback_exceptions=True,
        serve_locally=True,  # nothing is fetched from a CDN
        routes_pathname_prefix="/",
        requests_pathname_prefix=base,
        # assets/ holds only the partial plotly.js: a plain script tag, so it runs before the
        # layout is drawn and dcc.Graph uses it instead of fetching the full plotly.js
        assets_folder=str(plotlyjs.ASSETS),
        include_assets_files=plotlyjs.bundle_usable(),
    )
    ctx = _Context(reader, views_mod.Views(reader), importance, base, refresh_seconds)
    # Read the newest studies in the background: the first study page a browser opens then
    # waits for its charts only, not for the trials to be read.
    threading.Thread(target=views_mod.warm, args=(reader,), name="warm-up", daemon=True).start()

    def layout() -> html.Div:
        return _layout(ctx)

    app.layout = layout
    # Dash answers a script path it did not register (../../etc/passwd, an unknown package)
    # by raising DependencyException, which Flask turns into a 500; it is a missing file
    app.server.register_error_handler(dash.exceptions.DependencyException, _not_a_script)
    _add_routing(app, ctx)
    _add_home_callbacks(app, ctx)
    _add_study_callbacks(app, ctx)
    return app


def _not_a_script(exc: Exception) -> flask.Response:
    """404 for a component-suite path that Dash did not register (it serves none else)."""
    return flask.Response("not found", status=404, mimetype="text/plain")


def _page(ctx: _Context, path: str) -> html.Div:
    """The page for ``path`` (as the browser sees it), complete; ``page-path`` says which
    path it shows."""
    name = _study_name(_below(ctx.base, path))
    if name is None:
        content: Any = home_skeleton(ctx.refresh_ms)
    elif name not in (names := ctx.reader.names()):
        here = ", ".join(names[:10]) if names else "none"
        content = not_found(
            f"no study named {name!r} in {ctx.shown}; studies here: {here}", ctx.base
        )
    else:
        try:
            content = study_page(ctx.views.get(name), name, ctx.refresh_ms, ctx.base)
        except Exception as exc:  # a dashboard must keep serving; the log has the details
            log.exception("cannot draw study %s", name)
            content = problem(exc, ctx.base)
    return html.Div([dcc.Store(id="page-path", data=path), content])


def _layout(ctx: _Context) -> html.Div:
    # Dash fetches the layout from the page it serves, so the Referer is the page's URL:
    # the page is built right here and the browser draws it without a callback round trip.
    path = ctx.base
    if flask.has_request_context() and flask.request.referrer:
        path = urlparse(flask.request.referrer).path or ctx.base
    return html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                [
                    html.B("nas dashboard"),
                    html.Span(
                        f"  {ctx.shown} · read-only · refreshes every {ctx.refresh_seconds:g} s",
                        style={"color": "#666"},
                    ),
                ],
                style={"padding": "8px"},
            ),
            html.Div(_page(ctx, path), id="page"),
        ],
        style={"fontFamily": "sans-serif", "background": "#fafafa", "padding": "6px"},
    )


def _add_routing(app: Dash, ctx: _Context) -> None:
    @app.server.before_request
    def prefetch() -> None:
        # the HTML of a study page: start reading the study while the browser loads scripts
        name = _study_name(flask.request.path)
        if name is not None and flask.request.method == "GET":
            ctx.views.prefetch(name)

    @app.callback(Output("page", "children"), Input("url", "pathname"), State("page-path", "data"))
    def route(pathname: str | None, shown: str | None) -> Any:
        # the layout already holds the page the browser asked for; links within the app land here
        path = pathname or ctx.base
        return no_update if path == shown else _page(ctx, path)


def _add_home_callbacks(app: Dash, ctx: _Context) -> None:
    reader = ctx.reader

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
        return studies_table(rows, ctx.shown, ctx.base), names, chosen

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


def _add_study_callbacks(app: Dash, ctx: _Context) -> None:
    reader, views = ctx.reader, ctx.views

    @app.callback(
        Output("study-sig", "data"),
        Output("study-header", "children"),
        Input("study-tick", "n_intervals"),
        State("study-name", "data"),
        State("study-sig", "data"),
        prevent_initial_call=True,
    )
    @_safe(lambda e: ("error", problem(e, ctx.base)))
    def study_poll(_n: int | None, name: str, old: str | None) -> Any:
        # polled: a cheap signature; the charts follow a new one (study_charts)
        if reader.signature(name) == old:
            return no_update, no_update
        v = views.get(name)
        return v.sig, v.header()

    # The charts hang on the signature, not on the interval: Dash drops the answer of a call
    # that is still running when the same callback fires again, so on a loaded machine (a first
    # call slower than one refresh period) interval-driven charts never arrived.
    @app.callback(
        *(Output(g, "figure") for g in STUDY_GRAPHS),
        Output("lut-view", "children"),
        Input("study-sig", "data"),
        State("study-name", "data"),
    )
    @_safe(lambda e: (fg.empty_figure(str(e)),) * 5 + (html.P(str(e)),))
    def study_charts(_sig: str | None, name: str) -> Any:
        v = views.get(name)
        # the page's own first call: the layout already holds the first-paint charts
        first = dash.ctx.triggered_id is None
        rest = (no_update if first and g in FIRST_PAINT else v.figure(g) for g in STUDY_GRAPHS)
        return (*rest, v.lookup_tables())

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
        return arch_panel(reader.study(name), number, ctx.shown, "clicked")

    # Importance is the slow chart: its own request once the page is drawn (the page does not
    # wait for it), and again after each refresh of the study.
    @app.callback(
        Output("importance-graph", "figure"),
        Input("study-sig", "data"),
        State("study-name", "data"),
    )
    @_safe(lambda e: fg.empty_figure(f"parameter importance unavailable: {e}"))
    def importance_view(_fig: Any, name: str) -> Any:
        return fg.plot_importance(ctx.importance.get(reader.study(name)))


def _clicked(click: dict | None) -> int | None:
    if not click or not click.get("points"):
        return None
    cd = click["points"][0].get("customdata")
    if isinstance(cd, list):
        cd = cd[0] if cd else None
    return int(cd) if isinstance(cd, int | float) else None
