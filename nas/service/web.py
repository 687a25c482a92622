"""The browser side of ``nas serve``: the dashboard at ``/dashboard/`` and its login.

The Dash dashboard (:mod:`dashboard.app`, the one ``nas dashboard`` serves) is a Flask (WSGI)
app; it is mounted in the ASGI app through a2wsgi, the converter Starlette itself points to
since it deprecated its own. It reads the server's storage read-only and has no action that
writes.

A browser cannot send ``Authorization: Bearer``, so ``/login`` offers a form that takes the
token (by POST: a token in a URL stays in the history and in proxy logs) and sets a cookie:
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and scoped to
``/dashboard``. Its value is an HMAC of the token, not the token, and it opens the dashboard
only: the API keeps asking for the bearer header, so a page cannot submit or cancel searches
with the cookie of the person viewing it. :class:`nas.service.auth.Guard` checks both.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import threading
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

PREFIX = "/dashboard"  # the mount; pages are below PREFIX + "/"
COOKIE = "nas_dashboard"
COOKIE_DAYS = 30
WEB_PATHS = frozenset({"/", "/login", "/logout"})  # open: they show nothing of the studies


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def cookie_value(token: str) -> str:
    """What the login cookie holds for ``token``: an HMAC of it, never the token itself."""
    return hmac.new(token.encode(), b"nas dashboard cookie v1", hashlib.sha256).hexdigest()


def has_cookie(cookie_header: bytes, expected: str) -> bool:
    """Whether a ``Cookie`` header carries the login cookie, compared in constant time."""
    from starlette.requests import cookie_parser

    given = cookie_parser(cookie_header.decode("latin-1")).get(COOKIE, "")
    return hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode())


def _next(target: str | None) -> str:
    """Where to go after the login: a dashboard page of this server, nothing else."""
    if target and is_dashboard(target):  # a path of this host: never another site
        return target
    return PREFIX + "/"


class _LazyDashboard:
    """The Dash app's WSGI server, made on the first request: the API starts without
    importing Dash and Plotly, and tests of the API never build it."""

    def __init__(self, storage: str, refresh_seconds: float) -> None:
        self.storage, self.refresh_seconds = storage, refresh_seconds
        self._lock = threading.Lock()
        self._wsgi: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        with self._lock:
            if self._wsgi is None:
                from dashboard.app import create_app

                dash_app = create_app(
                    self.storage, refresh_seconds=self.refresh_seconds, base=PREFIX + "/"
                )
                self._wsgi = dash_app.server
        return self._wsgi(environ, start_response)


_FORM = """<!doctype html>
<html><head><meta charset="utf-8"><title>nas: sign in</title>
<link rel="icon" href="data:,"></head>
<body style="font-family: sans-serif; margin: 3em">
<h2>nas dashboard</h2>
<p>{message}</p>
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Token (NAS_TOKEN of the server)
<input type="password" name="token" id="token" autofocus autocomplete="current-password"></label>
<button type="submit" id="sign-in">Sign in</button>
</form>
</body></html>
"""


def _form(target: str, message: str, status: int = 200) -> HTMLResponse:
    page = _FORM.format(message=html.escape(message), next=html.escape(target, quote=True))
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def add_dashboard(
    app: FastAPI, *, storage: str, token: str | None, refresh_seconds: float
) -> None:
    """Mount the dashboard of ``storage`` at ``/dashboard/`` and add ``/login``, ``/logout``
    and ``/``; ``token`` None: no login (``nas serve --no-auth``)."""
    from a2wsgi import WSGIMiddleware

    secret = token  # the form's field is called token too
    # a2wsgi types the ASGI callables with its own TypedDicts, Starlette with MutableMapping
    app.mount(PREFIX, WSGIMiddleware(_LazyDashboard(storage, refresh_seconds)))  # type: ignore[arg-type]

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(next: str | None = None) -> Response:  # noqa: A002  # the form's field
        if secret is None:
            return RedirectResponse(_next(next), status_code=303)
        return _form(_next(next), "Sign in with the server's token to see its studies.")

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2048)] = "",  # noqa: A002
    ) -> Response:
        target = _next(next)
        if secret is None:
            return RedirectResponse(target, status_code=303)
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return _form(target, "Wrong token; try again.", status=401)
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            COOKIE,
            cookie_value(secret),
            max_age=COOKIE_DAYS * 86400,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",  # plain HTTP on 127.0.0.1 by default
        )
        return answer

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return answer


def login_redirect(path: str, query: bytes) -> str:
    """The login page's address for a page asked for without the cookie."""
    target = path + ("?" + query.decode("latin-1") if query else "")
    return "/login?next=" + quote(target, safe="")
