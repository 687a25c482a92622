"""The ``nas`` command line: argument parsing and printing only.

Each sub-command lives in a small module of :mod:`nas.commands` with ``add_parser`` and
``run``; ``main`` returns the exit status: 0 done, 1 failed, 2 bad input, 130 interrupted.
SIGTERM (``kill PID``, a service manager stopping ``nas serve``) stops a command exactly as
Ctrl-C does.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from nas.errors import EXIT_INTERRUPTED, EXIT_USAGE, NasInputError
from nas.limits import printable
from nas.search import interrupts
from nas.version import __version__

# sub-command modules, in the order ``nas --help`` lists them
COMMANDS = (
    "search",
    "worker",
    "studies",
    "show",
    "export",
    "compress",
    "dashboard",
    "report",
    "hardware",
    "device",
    "serve",
    "submit",
    "status",
    "cancel",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"nas: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nas",
        description=(
            "Hardware-aware neural architecture search: train a weight-sharing supernet, score "
            "candidates with inherited weights and latency measured on the target, keep the "
            "accuracy/latency Pareto front in an Optuna database."
        ),
        epilog="Start with: nas search --space mobile --budget 200",
    )
    parser.add_argument("--version", action="version", version=f"nas {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"nas.commands.{name}").add_parser(sub)
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    interrupts.deliver(KeyboardInterrupt())  # held while Optuna records a trial


@contextlib.contextmanager
def _sigterm_like_ctrl_c() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt``, so every clean stop on Ctrl-C (a search failing
    its running trial as "interrupted", ``nas serve`` handing its searches back to the queue)
    happens on ``kill PID`` too. Python's default is to die at once, leaving trials and queued
    searches ``running`` until their heartbeat grace runs out; uvicorn restores this handler
    when it has shut down and raises the signal again, which lands here."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    with _sigterm_like_ctrl_c():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)
        logging.getLogger("optuna").setLevel(logging.WARNING)
    try:
        return int(args.run(args))
    except NasInputError as exc:
        # one line, whatever the message holds: a name or value from outside may carry
        # newlines or terminal escapes, written out here as \n, \x1b
        sys.stderr.write(f"nas: error: {printable(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("nas: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
