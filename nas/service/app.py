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
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import secrets
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nas.data import BUILTIN, builtin_missing
from nas.errors import NasInputError
from nas.export.select import PICKS
from nas.limits import LimitError
from nas.search.options import SearchOptions
from nas.service import metrics, study_cache, web
from nas.service import queue as q
from nas.service.openapi import EVENTS_DOC, EventStream, errors
from nas.storage.db import Store

# ?pick= takes nas export's --pick words; the API's first words for two of them stay accepted
PICK_ALIASES = {"fastest": "latency", "most-accurate": "accuracy"}
PICK_PATTERN = "^(" + "|".join((*PICKS, *PICK_ALIASES)) + r"|trial:\d{1,9})$"
PICK_HELP = (
    "knee (default), latency or accuracy, as nas export --pick (fastest = latency, "
    "most-accurate = accuracy), or trial:N"
)

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"} | web.WEB_PATHS)
SERVER_OWNED = ("storage", "checkpoint_dir", "workers")  # never taken from a request
# an id beyond the database's integer type would be a driver error, not a 404
SearchId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


@dataclass(frozen=True)
class ServiceConfig:
    """What the server was started with."""

    storage: str
    token: str | None  # None: no authentication (only allowed on 127.0.0.1)
    data_dir: Path
    max_body_bytes: int = 1 << 20  # JSON requests
    max_upload_bytes: int = 256 << 20  # uploaded .npz data sets
    targets: tuple[str, ...] = ("cpu", "onnxruntime")
    slots: int = 0  # worker processes of this server (for /healthz)
    dashboard_refresh_s: float = 5.0  # how often dashboard pages look for new trials


class _Guard:
    """ASGI middleware: the bearer token on every path but ``OPEN_PATHS`` (the dashboard
    also takes the login cookie); body size caps.

    Written as plain ASGI (not ``BaseHTTPMiddleware``) so it also counts the bytes of a body
    sent without ``Content-Length`` and never buffers a streamed response.
    """

    def __init__(self, app: ASGIApp, config: ServiceConfig) -> None:
        self.app, self.config = app, config
        self.expected = f"Bearer {config.token}".encode() if config.token else None
        self.cookie = web.cookie_value(config.token) if config.token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = dict(scope["headers"])
        if self.expected is not None and path not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            ok = hmac.compare_digest(given, self.expected)
            if not ok and web.is_dashboard(path):
                ok = web.has_cookie(headers.get(b"cookie", b""), self.cookie)
                if not ok and scope["method"] == "GET" and b"html" in headers.get(b"accept", b""):
                    where = web.login_redirect(path, scope.get("query_string", b""))
                    await _send_redirect(send, where)
                    return
            if not ok:
                await _send_json(send, 401, {"detail": "missing or wrong token"})
                return
        cap = (
            self.config.max_upload_bytes if path == "/api/datasets" else self.config.max_body_bytes
        )
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _send_json(send, 413, {"detail": f"request body larger than {cap} bytes"})
            return
        seen, too_large, answered = 0, False, False

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:  # a body without Content-Length, counted as it arrives
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if too_large:  # whatever the app makes of the cut body, the answer is 413
                if not answered:
                    answered = True
                    await _send_json(
                        send, 413, {"detail": f"request body larger than {cap} bytes"}
                    )
                return
            answered = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not answered:
            await _send_json(send, 413, {"detail": f"request body larger than {cap} bytes"})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if status in (401, 413):  # the body is left unread: nothing the client still sends is kept
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_redirect(send: Send, where: str) -> None:
    headers = [(b"location", where.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def confine(data_dir: Path, given: str, what: str) -> Path:
    """``given`` as a path inside ``data_dir``; it must exist and may not leave the folder.

    Raises:
        HTTPException: 400 with the reason.
    """
    root = data_dir.resolve()
    p = Path(given)
    if p.is_absolute() or "\x00" in given:
        raise HTTPException(400, f"{what} must be a path inside the server's data folder")
    full = (root / p).resolve()
    if not full.is_relative_to(root):
        raise HTTPException(400, f"{what} {given!r} leaves the server's data folder")
    if not full.exists():
        raise HTTPException(400, f"{what} {given!r} not found in the server's data folder")
    return full


def _resolve_paths(config: ServiceConfig, opts: dict[str, Any]) -> dict[str, Any]:
    """The request's options with every path made absolute inside the data folder."""
    from nas.spaces.loader import builtin_names

    out = dict(opts)
    space = out.get("space")
    if space is not None and space not in builtin_names():
        out["space"] = str(confine(config.data_dir, str(space), "space file"))
    data = out.get("data")
    if data in BUILTIN:
        missing = builtin_missing(str(data))
        if missing:
            raise HTTPException(
                400,
                f"{missing} on this server: ask its administrator to install it, or upload "
                "a .npz (POST /api/datasets) and pass its name as data",
            )
    elif data is not None:
        out["data"] = str(confine(config.data_dir, str(data), "data"))
    kind, sep, rest = str(out.get("evaluator", "")).partition(":")
    if kind == "table" and sep:
        out["evaluator"] = f"table:{confine(config.data_dir, rest, 'table')}"
    target = str(out.get("target", "cpu"))
    if target not in config.targets and target.partition(":")[0] not in config.targets:
        raise HTTPException(
            400, f"target {target!r} is not allowed here; this server allows {config.targets}"
        )
    return out


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
    app.add_middleware(_Guard, config=config)
    registry = metrics.Metrics(store)

    @app.exception_handler(NasInputError)
    async def _bad_input(request: Request, exc: NasInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # one group of routes each, in this order (the order of the OpenAPI schema)
    _add_service_routes(app, registry, started)
    _add_search_routes(app, config, store, registry)
    _add_result_routes(app, store)
    _add_catalogue_routes(app, config)
    web.add_dashboard(
        app,
        storage=config.storage,
        token=config.token,
        refresh_seconds=config.dashboard_refresh_s,
    )
    registry.instrument(app)
    return app


def _get(store: Store, search_id: int) -> q.Search:
    search = q.get(store, search_id)
    if search is None:
        raise HTTPException(404, f"no search {search_id}")
    return search


def _add_service_routes(app: FastAPI, registry: metrics.Metrics, started: float) -> None:
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness; no token needed."""
        return {"status": "ok", "uptime_s": round(time.time() - started, 1)}

    @app.get("/metrics", tags=["service"], response_class=Response, responses=errors())
    def prometheus() -> Response:
        """Prometheus metrics (searches per state, trials, request latency)."""
        body, content_type = registry.render()
        return Response(body, media_type=content_type)


def _add_search_routes(
    app: FastAPI, config: ServiceConfig, store: Store, registry: metrics.Metrics
) -> None:
    @app.post("/api/searches", status_code=201, tags=["searches"], responses=errors(400, 409, 413))
    def submit(options: SearchOptions) -> dict[str, Any]:
        """Queue a search; the body takes every ``nas search`` option (nas.search.options),
        checked as ``nas search`` checks them (``nas.search.driver.check_search``) before it
        is queued."""
        from nas.search.driver import check_search

        owned = [k for k in SERVER_OWNED if k in options.model_fields_set]
        if owned:
            raise HTTPException(400, f"the server decides {', '.join(owned)}; leave it out")
        given = options.given()  # only what the request set: the rest keeps its defaults
        resolved = _resolve_paths(config, given)
        # a request nas search would refuse is refused here, with its line (400), not queued
        # to fail in a worker
        space = check_search(SearchOptions(**resolved, storage=config.storage)).space
        study = options.study or (f"{space.name}-{options.strategy_name}-{secrets.token_hex(3)}")
        if q.active_study(store, study) is not None:
            raise HTTPException(409, f"study {study!r} already has a queued or running search")
        resolved["study"] = study
        search = q.submit(store, resolved, study_name=study, budget=options.budget)
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
        return _progress(store, _get(store, search_id))

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
        stream = _progress_events(store, search_id, interval, max_seconds)
        return EventStream(stream)

    @app.post("/api/searches/{search_id}/cancel", tags=["searches"], responses=errors(404))
    def cancel(search_id: SearchId) -> dict[str, Any]:
        """Cancel: a queued search at once, a running one within seconds (its running trial
        is failed with reason "cancelled")."""
        _get(store, search_id)
        search = q.request_cancel(store, search_id)
        assert search is not None
        return search.to_dict()


async def _progress_events(
    store: Store, search_id: int, interval: float, max_seconds: float
) -> AsyncIterator[str]:
    """The server-sent events of one search: ``progress`` on every change, then ``end``."""
    last = None
    deadline = time.monotonic() + max_seconds
    while True:
        search = await asyncio.to_thread(_get, store, search_id)
        p = await asyncio.to_thread(_progress, store, search)
        if p != last:
            yield f"event: progress\ndata: {json.dumps(p)}\n\n"
            last = p
        if search.state in q.TERMINAL or time.monotonic() > deadline:
            yield f"event: end\ndata: {json.dumps({'state': search.state.value})}\n\n"
            return
        await asyncio.sleep(interval)


def _add_result_routes(app: FastAPI, store: Store) -> None:
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
        if not _complete(store, search):
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


def _add_catalogue_routes(app: FastAPI, config: ServiceConfig) -> None:
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
        return await run_in_threadpool(_keep_upload, config.data_dir, raw)


def _keep_upload(data_dir: Path, raw: bytes) -> dict[str, Any]:
    """Check an uploaded ``.npz`` and write it under ``data_dir/uploads``; what to answer."""
    info = _check_npz(raw)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    rel = f"uploads/{digest}.npz"
    dest = data_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(raw)
        tmp.replace(dest)
    return {"data": rel, **info}


def _check_npz(raw: bytes) -> dict[str, Any]:
    """The checks of ``nas search --data`` (:func:`nas.data.checks.check_npz`: zip directory
    and array headers, nothing unpacked), then every member read through once in 1 MiB
    pieces so that a corrupt one is refused now (zipfile checks each CRC), in little memory.

    Raises:
        HTTPException: 413 when it unpacks beyond the cap, 400 for anything else.
    """
    from nas.data.checks import check_npz

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            x_shape, y_shape = check_npz(z, "the .npz")
            for name in ("x.npy", "y.npy"):
                with z.open(name) as member:
                    while member.read(1 << 20):
                        pass
    except LimitError as exc:
        raise HTTPException(413, str(exc)) from None
    except NasInputError as exc:
        raise HTTPException(400, str(exc)) from None
    except Exception as exc:  # zipfile's errors: not a zip, a bad CRC, a truncated member
        raise HTTPException(
            400, f"not a readable .npz without pickles ({type(exc).__name__})"
        ) from None
    if not x_shape or not y_shape or x_shape[0] != y_shape[0] or x_shape[0] == 0:
        x_n, y_n = (s[0] if s else 0 for s in (x_shape, y_shape))
        raise HTTPException(400, f"x and y must have the same, non-zero length ({x_n}, {y_n})")
    return {"samples": x_shape[0], "x_shape": list(x_shape)}


def _complete(store: Store, search: q.Search) -> list[Any]:
    from optuna.trial import TrialState

    from nas.storage.fastread import load_trials

    try:
        trials = load_trials(store, search.study_name, params=False)
    except NasInputError:  # the study is made when the search starts
        return []
    return [t for t in trials if t.state == TrialState.COMPLETE]


def _progress(store: Store, search: q.Search) -> dict[str, Any]:
    view = study_cache.for_store(store).view(search.study_name)
    cap = search.options.get("max_latency_ms")
    done = 0 if view is None else len(view.done)
    end = search.finished_at or time.time()
    elapsed = (end - search.started_at) if search.started_at else 0.0
    eta = None
    if view is not None and search.state == q.State.RUNNING and done and search.started_at:
        # rate of this run's trials (those completed since the search started)
        recent = study_cache.completed_since(view, search.started_at)
        if recent and elapsed > 0:
            eta = round(elapsed / recent * max(0, search.budget - done), 1)
    return {
        "id": search.id,
        "state": search.state.value,
        "complete": done,
        "budget": search.budget,
        "best_accuracy": None if view is None else view.best_accuracy(cap),
        "front_size": 0 if view is None else len(view.front(cap)),
        "elapsed_s": round(elapsed, 1),
        "eta_s": eta,
        "error": search.error,
    }
