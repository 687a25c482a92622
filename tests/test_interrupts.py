"""Interrupts land where the study can take them (nas.search.interrupts)."""

from __future__ import annotations

import os
import signal

import pytest

from nas.errors import Cancelled
from nas.search import interrupts


def test_an_interrupt_outside_the_loop_raises_at_once() -> None:
    with pytest.raises(KeyboardInterrupt):
        interrupts.deliver(KeyboardInterrupt())


def test_inside_an_evaluation_it_raises_at_once() -> None:
    reached = []
    with pytest.raises(Cancelled), interrupts.optuna_call(), interrupts.evaluating():
        interrupts.deliver(Cancelled("cancelled"))
        reached.append(True)
    assert not reached


def test_inside_optunas_bookkeeping_it_is_held_until_optuna_returns() -> None:
    steps = []
    with pytest.raises(Cancelled), interrupts.optuna_call():
        interrupts.deliver(Cancelled("cancelled"))  # e.g. while Optuna tells the values
        steps.append("told")
        interrupts.deliver(KeyboardInterrupt())  # a second one does not replace the first
        steps.append("callbacks")
    assert steps == ["told", "callbacks"]
    # nothing is held any more: the next loop starts clean
    with interrupts.optuna_call():
        steps.append("next trial")


def test_a_held_interrupt_stops_the_next_evaluation_before_it_starts() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.optuna_call():
        interrupts.deliver(KeyboardInterrupt())
        with interrupts.evaluating():
            pytest.fail("evaluated after Ctrl-C")


def test_ctrl_c_goes_through_deliver_only_inside_optuna_and_python_s_handler_is_restored() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    steps = []
    with pytest.raises(KeyboardInterrupt), interrupts.optuna_call():
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered in this thread
        steps.append("after the signal")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.optuna_call():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
