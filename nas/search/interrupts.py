"""Interrupts (Ctrl-C, the service's cancel) that land where the study can take them.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Inside a trial's
evaluation (seconds to minutes of work) that is what we want: the objective fails the trial
with ``fail_reason = "interrupted"`` and the trial loop re-raises. Inside the bookkeeping
around it (asking for a trial, telling its values, our callbacks) it is not: an interrupt
there could leave the trial RUNNING in the database. So while the trial loop runs a trial
(:func:`optuna_call` around :func:`nas.search.loop.run_trial`) and is not evaluating
(:func:`evaluating`), :func:`deliver` holds the interrupt and the loop raises it as soon as
the trial is told, a few milliseconds later. Anywhere else it raises at once.

Signal handlers run in the main thread, between bytecodes, so plain module state is enough.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_in_optuna = False
_evaluating = False
_held: BaseException | None = None


def deliver(exc: BaseException) -> None:
    """What a signal handler calls instead of ``raise exc``."""
    global _held
    if _in_optuna and not _evaluating:
        _held = _held or exc
        return
    raise exc


def _raise_held() -> None:
    global _held
    if _held is not None:
        exc, _held = _held, None
        raise exc


@contextmanager
def evaluating() -> Iterator[None]:
    """The objective's evaluation of one trial: an interrupt raises at once in here."""
    global _evaluating
    _raise_held()
    _evaluating = True
    try:
        yield
    finally:
        _evaluating = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    deliver(KeyboardInterrupt())


@contextmanager
def optuna_call() -> Iterator[None]:
    """One trial of the trial loop (ask, evaluate, tell): an interrupt that arrives outside the
    evaluation is raised when it returns. Ctrl-C goes through :func:`deliver` meanwhile (where
    Python's own handler is in place in the main thread; an ignored or custom one is kept)."""
    global _in_optuna
    own = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if own:
        signal.signal(signal.SIGINT, _on_sigint)
    _in_optuna = True
    try:
        yield
    finally:
        _in_optuna = False
        if own:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    _raise_held()
