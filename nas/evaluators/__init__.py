"""Evaluators: score a frozen architecture (supernet-inherited weights, or a table)."""

from __future__ import annotations

from nas.evaluators.base import CandidateError, Evaluation, Evaluator

__all__ = ["CandidateError", "Evaluation", "Evaluator"]
