"""``nas serve``: the HTTP API that queues, runs and reports searches (docs/service.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from nas.commands.common import add_storage, console, err_console
from nas.search.options import whole_number

TOKEN_ENV = "NAS_TOKEN"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve an HTTP API to submit, watch, cancel and collect searches",
        description=(
            "Serve the nas API (OpenAPI schema at /openapi.json) and run queued searches "
            "in --slots worker processes. Searches are queued in the database, so they survive "
            "a restart; with PostgreSQL, 'nas worker --queue' on other machines takes queued "
            "searches too. Every route but /healthz needs 'Authorization: Bearer $NAS_TOKEN'; "
            "the read-only dashboard at /dashboard/ also takes the cookie its /login form sets. "
            "Paths in requests (data, space files, tables) must lie inside --data-dir."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=whole_number, default=8080, help="TCP port (default 8080; 0: a free one)"
    )
    add_storage(p)
    p.add_argument(
        "--slots",
        type=whole_number,
        default=1,
        metavar="K",
        help="searches run at once by this server, each in its own worker process (default 1; "
        "0: only workers elsewhere run them)",
    )
    p.add_argument(
        "--data-dir",
        default="nas_data",
        metavar="DIR",
        help="the only folder requests may name files in; uploads go to DIR/uploads "
        "(default ./nas_data, created if missing)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=256.0,
        metavar="MB",
        help="largest uploaded .npz data set, in MiB (default 256)",
    )
    p.add_argument(
        "--allow-target",
        action="append",
        default=None,
        metavar="T",
        help="a latency target requests may name (repeatable; default: cpu and onnxruntime; "
        "'remote' allows remote:HOST:PORT, which makes this server connect where asked)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help=f"serve without a token (only on 127.0.0.1); otherwise {TOKEN_ENV} must be set",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.errors import OptionError
    from nas.service.config import ServiceConfig
    from nas.service.server import check_token, serve

    token = os.environ.get(TOKEN_ENV) or None
    check_token(token, no_auth=args.no_auth, host=args.host)
    from nas.hardware.target import target_names  # the registry, without torch
    from nas.limits import shorten

    if not 0 <= args.slots <= 64:
        raise OptionError(f"--slots must be 0-64, got {args.slots}")
    known = target_names()
    for t in args.allow_target or ():
        if t.partition(":")[0] not in known:
            raise OptionError(
                f"--allow-target: unknown target {shorten(t)}; known targets: {', '.join(known)}"
            )
    if not 0 < args.max_upload_mb <= 16384:
        raise OptionError(f"--max-upload-mb must be in (0, 16384], got {args.max_upload_mb}")
    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise OptionError(f"--data-dir {data_dir} is not a folder")
    config = ServiceConfig(
        storage=args.storage,
        token=None if args.no_auth else token,
        data_dir=data_dir.resolve(),
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        targets=tuple(args.allow_target or ("cpu", "onnxruntime")),
        slots=args.slots,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"warning: listening on {args.host}: plain HTTP, the token travels in clear text; "
            "use a trusted network or a TLS proxy"
        )

    def announce(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)
        console.file.flush()

    with contextlib.suppress(KeyboardInterrupt):
        serve(config, host=args.host, port=args.port, announce=announce)
    return 0
