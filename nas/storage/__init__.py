"""Persistence: Optuna's RDB storage plus nas's own tables and study settings.

No torch here: the dashboard reads everything through this package (the analysis of what it
reads is :mod:`nas.analysis`).
"""

from __future__ import annotations

from nas.storage.db import DEFAULT_URL, Store
from nas.storage.studies import StudySettings

__all__ = ["DEFAULT_URL", "Store", "StudySettings"]
