"""``nas submit``, ``nas status``, ``nas cancel``: talk to a ``nas serve`` (nas.client).

The three commands' modules (submit, status, cancel) take their parsers from here.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.markup import escape
from rich.table import Table

from nas.commands.common import console, err_console, numeric_column, shown
from nas.search.options import whole_number


def server_url(text: str) -> str:
    """``--server``: an http(s) URL with a host (argparse applies it to $NAS_SERVER too)."""
    from urllib.parse import urlsplit

    from nas.limits import shorten

    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f"expected the server's URL, e.g. http://127.0.0.1:8080, got {shorten(text)}"
        )
    return text


def _server(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        type=server_url,
        default=os.environ.get("NAS_SERVER", "http://127.0.0.1:8080"),
        metavar="URL",
        help="the nas serve to talk to (default: $NAS_SERVER or http://127.0.0.1:8080); "
        "token in NAS_TOKEN",
    )


def add_submit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        help="queue a search on a nas serve (the options of nas search)",
        description=(
            "Queue a search on the server at --server with the options of 'nas search' "
            "(paths are relative to the server's --data-dir); prints the search's id. "
            "--storage, --checkpoint-dir and --workers belong to the server and are refused."
        ),
    )
    from nas.commands.arguments import add_arguments

    add_arguments(p)  # nas search's own options: one declaration (nas.search.options)
    _server(p)
    p.add_argument("--wait", action="store_true", help="follow its progress until it ends")
    p.set_defaults(run=run_submit)


NO_STORAGE = "(The searches live in the server's --storage; this command takes none.)"


def add_status(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "status",
        help="searches on a nas serve, or one search's progress",
        description=f"List the searches of the server at --server, or show one's progress. "
        f"{NO_STORAGE}",
    )
    _server(s)
    s.add_argument("id", nargs="?", type=whole_number, help="one search (default: all)")
    s.set_defaults(run=run_status)


def add_cancel(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "cancel",
        help="cancel a search on a nas serve",
        description="Cancel a search of the server at --server: a queued one at once, a running "
        f"one within seconds (its running trial is failed as cancelled). {NO_STORAGE}",
    )
    _server(c)
    c.add_argument("id", type=whole_number, help="the search to cancel")
    c.set_defaults(run=run_cancel)


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from nas.client import Client

    return Client(args.server, os.environ.get("NAS_TOKEN"))


def _call(fn, *a: Any, **kw: Any) -> Any:  # type: ignore[no-untyped-def]
    from nas.client import ClientError
    from nas.errors import NasInputError

    try:
        return fn(*a, **kw)
    except ClientError as exc:
        raise NasInputError(f"server: {exc}") from None


def _given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The search options given on the command line (the others are the server's defaults)."""
    from nas.search.options import SearchOptions

    return {k: v for k, v in vars(args).items() if k in SearchOptions.model_fields}


def _fmt_progress(p: dict[str, Any]) -> str:
    best = "-" if p.get("best_accuracy") is None else f"{100 * p['best_accuracy']:.2f}%"
    eta = "" if p.get("eta_s") is None else f", eta {p['eta_s']:.0f} s"
    err = f" ({escape(p['error'])})" if p.get("error") else ""
    return (
        f"search {p['id']}: {p['state']}{err}, {p['complete']}/{p['budget']} complete, best "
        f"{best}, front {p['front_size']}, {p['elapsed_s']:.0f} s{eta}"
    )


def run_submit(args: argparse.Namespace) -> int:
    client = _client(args)
    s = _call(client.submit, **_given_options(args))
    console.print(f"search {s['id']} queued: study {escape(s['study'])}", highlight=False)
    if not args.wait:
        return 0
    last: dict[str, Any] = {}
    for p in _call(lambda: list_events(client, s["id"])):
        last = p
    last = _call(client.progress, s["id"])
    console.print(_fmt_progress(last), highlight=False)
    return 0 if last["state"] == "done" else 1


def list_events(client, search_id: int):  # type: ignore[no-untyped-def]
    for p in client.events(search_id):
        err_console.print(_fmt_progress(p), highlight=False)
        yield p


def run_status(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.id is not None:
        console.print(_fmt_progress(_call(client.progress, args.id)), highlight=False)
        return 0
    searches = _call(client.searches)
    table = Table(title=f"searches on {escape(args.server)}", title_justify="left")
    # id, state and budget never shrink or get cut at 80 columns; names and errors fold
    numeric_column(table, "id", [str(s["id"]) for s in searches])
    table.add_column(
        "state", no_wrap=True, min_width=max([5] + [len(s["state"]) for s in searches])
    )
    numeric_column(table, "budget", [str(s["budget"]) for s in searches])
    for col in ("study", "worker", "error"):
        table.add_column(col, overflow="fold")
    for s in searches:
        table.add_row(
            str(s["id"]),
            s["state"],
            str(s["budget"]),
            shown(s["study"]),
            shown(s["worker"]),
            shown(_short(s["error"], f"nas status {s['id']}")),
        )
    console.print(table)
    return 0


def _short(text: str, more: str, limit: int = 200) -> str:
    """``text``, or its start and where to read the rest (an error is kept up to 2000 chars)."""
    return text if len(text) <= limit else f"{text[:limit]}… (all of it: {more})"


def run_cancel(args: argparse.Namespace) -> int:
    s = _call(_client(args).cancel, args.id)
    what = "cancelled" if s["state"] == "cancelled" else f"{s['state']}, cancel requested"
    console.print(f"search {s['id']}: {what}", highlight=False)
    return 0
