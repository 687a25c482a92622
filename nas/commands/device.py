"""``nas device serve``: run the device agent that measures ONNX models for remote searches."""

from __future__ import annotations

import argparse
import contextlib
import os

from nas.commands.common import console, err_console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "device",
        help="run a device agent: measure latency for searches on other machines",
        description=(
            "Run on the target device. Searches elsewhere use it with --target "
            "remote:HOST:PORT and the same NAS_DEVICE_TOKEN. (The agent keeps no database, "
            "so it takes no --storage.)"
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    s = actions.add_parser(
        "serve",
        help="serve latency measurements over HTTP",
        description=(
            "Accept ONNX models over HTTP, time them with ONNX Runtime on this machine and "
            "answer the statistics and this machine's fingerprint. Needs a shared token "
            "(NAS_DEVICE_TOKEN or --token); binds 127.0.0.1 unless --host says otherwise; one "
            "measurement at a time; ONNX only, never pickles."
        ),
    )
    s.add_argument("--port", type=int, required=True, help="TCP port (0: pick a free one)")
    s.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    s.add_argument(
        "--token", default=None, help="shared token (default: the NAS_DEVICE_TOKEN variable)"
    )
    s.add_argument(
        "--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)"
    )
    s.add_argument(
        "--max-upload-mb",
        type=float,
        default=64.0,
        help="largest model accepted, in MiB (default 64)",
    )
    s.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall (default) or cpu: the measuring thread's CPU time (with --threads 1), "
        "which other jobs on the device do not inflate",
    )
    s.add_argument(
        "--time-limit-s",
        type=float,
        default=300.0,
        metavar="S",
        help="longest a measurement may take, in seconds (default 300): a model that runs "
        "longer is stopped and answered with an error, and the agent takes the next request",
    )
    s.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.hardware import TimingConfig
    from nas.hardware.agent import make_server
    from nas.hardware.agent_app import serve
    from nas.listen import DEVICE_TOKEN_ENV

    token = args.token if args.token is not None else os.environ.get(DEVICE_TOKEN_ENV, "")
    server = make_server(
        host=args.host,
        port=args.port,
        token=token,
        threads=args.threads,
        max_upload_mb=args.max_upload_mb,
        timing=TimingConfig(clock=args.clock),
        time_limit_s=args.time_limit_s,
    )
    host, port = str(server.server_address[0]), int(server.server_address[1])
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"warning: listening on {args.host}: plain HTTP, the token and models travel in "
            "clear text; use a trusted network or a TLS proxy"
        )
    console.print(f"device agent listening on http://{host}:{port}", highlight=False)
    console.file.flush()
    with contextlib.suppress(KeyboardInterrupt):
        serve(server)
    return 0
