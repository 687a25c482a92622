"""One tiny real search and one export of it, built once per test session and shared.

(A conftest here would clash with ``tests/conftest.py``, since the test folders are not
packages; a cache keyed by name does the sharing instead.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TINY

STUDY = "exp"
_CACHE: dict[str, object] = {}


@dataclass(frozen=True)
class TinyStudy:
    root: Path
    storage: str
    study: str


def tiny_study(factory: pytest.TempPathFactory) -> TinyStudy:
    """A completed 4-trial search of the tiny space (supernet 1 epoch, 1 calibration batch)."""
    if "study" not in _CACHE:
        from nas.search.driver import run_search
        from nas.search.options import SearchOptions

        root = factory.mktemp("export-study")
        storage = f"sqlite:///{root / 'studies.db'}"
        run_search(
            SearchOptions(
                space=str(TINY),
                supernet_epochs=1,
                calib_batches=1,
                batch_size=256,
                storage=storage,
                study=STUDY,
                budget=4,
                seed=1,
                threads=1,
            )
        )
        _CACHE["study"] = TinyStudy(root, storage, STUDY)
    return _CACHE["study"]  # type: ignore[return-value]


def exported(factory: pytest.TempPathFactory) -> Path:
    """The default export (knee of the front) of :func:`tiny_study`."""
    if "export" not in _CACHE:
        from nas.export.study_export import ExportOptions, export_study

        s = tiny_study(factory)
        out = s.root / "export"
        export_study(ExportOptions(study=s.study, out=str(out), storage=s.storage))
        _CACHE["export"] = out
    return _CACHE["export"]  # type: ignore[return-value]
