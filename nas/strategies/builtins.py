"""Imports every strategy module that ships with nas, so each registers itself."""

from __future__ import annotations

import nas.strategies.darts  # noqa: F401
from nas.strategies import optuna_samplers  # noqa: F401
