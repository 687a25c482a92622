"""Persistence: Optuna's RDB storage plus nas's own tables, study settings and results.

No torch here: the dashboard reads everything through this package.
"""

from __future__ import annotations

from nas.storage.db import DEFAULT_URL, Store
from nas.storage.studies import StudySettings

__all__ = ["DEFAULT_URL", "Store", "StudySettings"]
