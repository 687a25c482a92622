"""The routes of ``nas serve``, in groups (service, searches, results, catalogue); the app
adds them in this order, which is the order of the OpenAPI schema (:mod:`nas.service.app`).

Route bodies are short: what they compute lives beside them (:mod:`nas.service.progress`,
:mod:`nas.service.paths`, :mod:`nas.service.uploads`).
"""

from __future__ import annotations

import io
import secrets
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from nas.data import BUILTIN, builtin_missing
from nas.export.select import PICKS
from nas.search.options import SearchOptions
from nas.service import metrics, study_cache
from nas.service import queue as q
from nas.service.config import ServiceConfig
from nas.service.openapi import EVENTS_DOC, EventStream, errors
from nas.service.paths import resolve_paths
from nas.service.progress import complete_trials, progress_events, progress_of
from nas.service.uploads import keep_upload
from nas.storage.db import Store

# ?pick= takes nas export's --pick words; the API's first words for two of them stay accepted
PICK_ALIASES = {"fastest": "latency", "most-accurate": "accuracy"}
PICK_PATTERN = "^(" + "|".join((*PICKS, *PICK_ALIASES)) + r"|trial:\d{1,9})$"
PICK_HELP = (
    "knee (default), latency or accuracy, as nas export --pick (fastest = latency, "
    "most-accurate = accuracy), or trial:N"
)

SERVER_OWNED = ("storage", "checkpoint_dir", "workers")  # never taken from a request
# an id beyond the database's integer type would be a driver error, not a 404
SearchId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def _get(store: Store, search_id: int) -> q.Search:
    search = q.get(store, search_id)
    if search is None:
        raise HTTPException(404, f"no search {search_id}")
    return search


def add_service_routes(app: FastAPI, registry: metrics.Metrics, started: float) -> None:
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness; no token needed."""
        return {"status": "ok", "uptime_s": round(time.time() - started, 1)}

    @app.get("/metrics", tags=["service"], response_class=Response, responses=errors())
    def prometheus() -> Response:
        """Prometheus metrics (searches per state, trials, request latency)."""
        body, content_type = registry.render()
        return Response(body, media_type=content_type)


def add_search_routes(
    app: FastAPI, config: ServiceConfig, store: Store, registry: metrics.Metrics
) -> None:
    @app.post("/api/searches", status_code=201, tags=["searches"], responses=errors(400, 409, 413))
    def submit(options: SearchOptions) -> dict[str, Any]:
        """Queue a search; the body takes every ``nas search`` option (nas.search.options),
        checked as ``nas search`` checks them (``nas.search.driver.check_search``) before it
        is queued."""
        search = _queue(config, store, options)
        registry.submitted.inc()
        return search.to_dict()

    @app.get("/api/searches", tags=["searches"], responses=errors())
    def list_searches(
        state: q.State | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        """Searches, newest first, with their state."""
        return [s.to_dict() for s in q.list_searches(store, state=state, limit=limit)]

    @app.get("/api/searches/{search_id}", tags=["searches"], responses=errors(404))
    def one(search_id: SearchId) -> dict[str, Any]:
        return _get(store, search_id).to_dict()

    @app.get("/api/searches/{search_id}/progress", tags=["searches"], responses=errors(404))
    def progress(search_id: SearchId) -> dict[str, Any]:
        """Complete / budget, best accuracy, front size, elapsed and an ETA estimate."""
        return progress_of(store, _get(store, search_id))

    @app.get(
        "/api/searches/{search_id}/events",
        tags=["searches"],
        response_class=EventStream,
        responses={200: EVENTS_DOC, **errors(404, inline=True)},
    )
    async def events(
        search_id: SearchId,
        interval: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
        max_seconds: Annotated[float, Query(gt=0, le=86400)] = 3600,
    ) -> EventStream:
        """Server-sent events: a ``progress`` event on every change, ``end`` when it ends."""
        _get(store, search_id)
        stream = progress_events(store, search_id, interval, max_seconds, _get)
        return EventStream(stream)

    @app.post("/api/searches/{search_id}/cancel", tags=["searches"], responses=errors(404))
    def cancel(search_id: SearchId) -> dict[str, Any]:
        """Cancel: a queued search at once, a running one within seconds (its running trial
        is failed with reason "cancelled")."""
        _get(store, search_id)
        search = q.request_cancel(store, search_id)
        assert search is not None
        return search.to_dict()


def _queue(config: ServiceConfig, store: Store, options: SearchOptions) -> q.Search:
    """Queue a search request after the checks of ``nas search``; what was queued.

    Raises:
        HTTPException: 400 for an option the server owns or a path outside its data folder,
            409 when the study already has a queued or running search.
        NasInputError: what ``nas search`` would refuse (answered 400 by the app).
    """
    from nas.search.driver import check_search

    owned = [k for k in SERVER_OWNED if k in options.model_fields_set]
    if owned:
        raise HTTPException(400, f"the server decides {', '.join(owned)}; leave it out")
    resolved = resolve_paths(config, options)  # what the request set, paths confined
    # a request nas search would refuse is refused here, with its line (400), not queued
    # to fail in a worker
    space = check_search(SearchOptions(**resolved, storage=config.storage)).space
    study = options.study or (f"{space.name}-{options.strategy_name}-{secrets.token_hex(3)}")
    if q.active_study(store, study) is not None:
        raise HTTPException(409, f"study {study!r} already has a queued or running search")
    resolved["study"] = study
    return q.submit(store, resolved, study_name=study, budget=options.budget)


def add_result_routes(app: FastAPI, store: Store) -> None:
    @app.get("/api/searches/{search_id}/front", tags=["results"], responses=errors(404))
    def front(search_id: SearchId) -> list[dict[str, Any]]:
        """The Pareto front, fastest first."""
        search = _get(store, search_id)
        view = study_cache.for_store(store).view(search.study_name)
        return [] if view is None else view.front(search.options.get("max_latency_ms"))

    @app.get("/api/searches/{search_id}/trials", tags=["results"], responses=errors(404))
    def trials(
        search_id: SearchId,
        offset: Annotated[int, Query(ge=0, description="first trial (in number order)")] = 0,
        limit: Annotated[
            int | None, Query(ge=1, le=10_000, description="at most this many (default: all)")
        ] = None,
    ) -> list[dict[str, Any]]:
        """The search's trials in number order, with state and results: every one, or the
        page ``offset``, ``limit``."""
        search = _get(store, search_id)
        view = study_cache.for_store(store).view(search.study_name)
        return [] if view is None else view.page(offset, limit)

    @app.get(
        "/api/searches/{search_id}/export",
        tags=["results"],
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}}, **errors(400, 404, 409)},
    )
    def export(
        search_id: SearchId,
        pick: Annotated[str, Query(pattern=PICK_PATTERN, description=PICK_HELP)] = "knee",
    ) -> Response:
        """A zip of ``nas export``'s artifacts for the picked trial."""
        search = _get(store, search_id)
        if not complete_trials(store, search):
            raise HTTPException(409, "the search has no completed trial yet")
        data, trial = _export_zip(store, search, pick)
        name = f"{search.study_name}-trial{trial}.zip"
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _export_zip(store: Store, search: q.Search, pick: str) -> tuple[bytes, int]:
    """``nas export``'s artifacts for ``pick`` of the search's study, zipped; and the trial."""
    from nas.export.study_export import ExportOptions, export_study

    chosen: dict[str, Any]
    if pick.startswith("trial:"):
        chosen = {"trial": int(pick.partition(":")[2])}
    else:
        chosen = {"pick": PICK_ALIASES.get(pick, pick)}
    with tempfile.TemporaryDirectory(prefix="nas-export-") as tmp:
        r = export_study(
            ExportOptions(
                study=search.study_name, out=str(Path(tmp) / "x"), storage=store.url, **chosen
            )
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(r.out.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(r.out).as_posix())
    return buf.getvalue(), r.trial


def add_catalogue_routes(app: FastAPI, config: ServiceConfig) -> None:
    @app.get("/api/spaces", tags=["catalogue"], responses=errors())
    def spaces() -> dict[str, list[str]]:
        """Built-in spaces, and space files in the data folder."""
        from nas.spaces.loader import builtin_names

        files = sorted(
            p.relative_to(config.data_dir).as_posix()
            for p in config.data_dir.rglob("*.yaml")
            if p.is_file()
        )
        return {"builtin": builtin_names(), "files": files}

    @app.get("/api/strategies", tags=["catalogue"], responses=errors())
    def strategies() -> list[str]:
        from nas.strategies import strategy_names

        return strategy_names()

    @app.get("/api/targets", tags=["catalogue"], responses=errors())
    def targets() -> list[str]:
        """The targets a request may name on this server."""
        return list(config.targets)

    @app.get("/api/datasets", tags=["catalogue"], responses=errors())
    def datasets() -> dict[str, Any]:
        """The built-in data sets of ``nas search --data`` (each with whether it is installed
        on this server, and, when not, why), and the ``.npz`` files and tables in the data
        folder."""
        root = config.data_dir
        found = sorted(
            p.relative_to(root).as_posix()
            for pattern in ("*.npz", "*.csv")
            for p in root.rglob(pattern)
            if p.is_file()
        )
        builtin = [
            {"name": name, "available": (why := builtin_missing(name)) is None, "reason": why}
            for name in BUILTIN
        ]
        return {"builtin": builtin, "files": found}

    @app.post("/api/datasets", status_code=201, tags=["catalogue"], responses=errors(400, 413))
    async def upload(file: UploadFile) -> dict[str, Any]:
        """Upload a ``.npz`` with ``x`` and ``y``; answers the name to pass as ``data``.

        Read with ``allow_pickle=False``; the size is capped (``--max-upload-mb``), and so is
        its unpacked size (``nas.limits.MAX_NPZ_UNPACKED_BYTES``, from the zip directory)."""
        raw = await file.read(config.max_upload_bytes + 1)
        if len(raw) > config.max_upload_bytes:
            raise HTTPException(413, f"upload larger than {config.max_upload_bytes} bytes")
        # checking, hashing and writing take seconds for a large upload: never on the loop
        return await run_in_threadpool(keep_upload, config.data_dir, raw)
