"""The HTTP API of ``nas serve`` (FastAPI; the OpenAPI schema is at ``/openapi.json``).

Every route but ``/healthz`` needs ``Authorization: Bearer TOKEN`` (compared in constant
time), enforced by one middleware so that a route added later is covered without a thought;
the same middleware caps request bodies. The read-only dashboard is mounted at
``/dashboard/`` and also takes the cookie that ``/login`` sets (:mod:`nas.service.web`).

The request body of a search is :class:`nas.search.options.SearchOptions`, the very declaration
``nas search`` parses its options from; the server keeps for itself what concerns its
machine (``storage``, ``checkpoint_dir``, ``workers``) and confines every path in a request
(data, space file, table) to its data folder.

The API reads the database only; searches run in worker processes (:mod:`nas.service.runner`).

This module assembles the app; each concern has its own module: :mod:`~nas.service.config`
(what the server was started with), :mod:`~nas.service.auth` (token and body caps),
:mod:`~nas.service.paths` (path confinement), :mod:`~nas.service.uploads` (uploaded data
sets), :mod:`~nas.service.progress` (progress arithmetic and its event stream) and
:mod:`~nas.service.routes` (the routes, in groups).
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nas.errors import NasInputError
from nas.service import metrics, routes, web
from nas.service.auth import Guard
from nas.service.config import ServiceConfig
from nas.storage.db import Store


def create_app(config: ServiceConfig) -> FastAPI:
    """The application; ``config.storage`` is opened (and migrated) here."""
    store = Store(config.storage)
    started = time.time()
    app = FastAPI(
        title="nas",
        summary="Hardware-aware neural architecture search as a service",
        version=__import__("nas").__version__,
        # FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN (blank offline) and
        # would want the bearer header a browser cannot send; the schema stays at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(Guard, config=config)
    registry = metrics.Metrics(store)

    @app.exception_handler(NasInputError)
    async def _bad_input(request: Request, exc: NasInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # one group of routes each, in this order (the order of the OpenAPI schema)
    routes.add_service_routes(app, registry, started)
    routes.add_search_routes(app, config, store, registry)
    routes.add_result_routes(app, store)
    routes.add_catalogue_routes(app, config)
    web.add_dashboard(
        app,
        storage=config.storage,
        token=config.token,
        refresh_seconds=config.dashboard_refresh_s,
    )
    registry.instrument(app)
    return app
