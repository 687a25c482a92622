"""``nas dashboard``: serve the web dashboard for a storage (read-only, 127.0.0.1 by default)."""

from __future__ import annotations

import argparse

from nas.commands.common import add_storage, console
from nas.search.options import whole_number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve a web dashboard of the studies in a storage",
        description=(
            "Serve a Plotly dashboard of every study in the storage: Pareto fronts, progress, "
            "latency, architectures, parameter importance. The storage is opened read-only and "
            "the pages follow a search running in another process."
        ),
    )
    add_storage(p)
    p.add_argument("--port", type=whole_number, default=8050, help="TCP port (default 8050)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes the "
        "studies to the network)",
    )
    p.add_argument(
        "--refresh",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often pages check the storage for new trials (default 5)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.errors import OptionError

    if not 0 < args.port < 65536:
        raise OptionError(f"--port must be between 1 and 65535, got {args.port}")
    if not args.refresh > 0:
        raise OptionError(f"--refresh must be > 0 seconds, got {args.refresh}")
    import logging

    from dashboard.app import create_app

    if not args.verbose:  # werkzeug logs every request, and the pages poll
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = create_app(args.storage, refresh_seconds=args.refresh)
    console.print(
        f"nas dashboard on http://{args.host}:{args.port}/ for {args.storage} "
        "(read-only; Ctrl-C to stop)"
    )
    # SIGTERM (a service manager, a test) exits like Ctrl-C, so the importance worker process
    # is shut down on the way out instead of being orphaned.
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(host=args.host, port=args.port, debug=False)
    return 0
