"""Imports every strategy module that ships with nas, so each registers itself."""

from __future__ import annotations

from nas.strategies import (
    darts,  # noqa: F401
    evolution,  # noqa: F401
    optuna_samplers,  # noqa: F401
)
