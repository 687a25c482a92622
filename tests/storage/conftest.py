"""The storage tests run on every back-end nas supports, like Optuna's ``STORAGE_MODES``.

A test that takes ``storage_url`` runs once on a SQLite file and once on a fresh PostgreSQL
database (tests/pgserver.py). A test of one back-end's own behaviour (SQLite's WAL, its file
checks) takes ``sqlite_url`` or ``postgres_url`` instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studies.db'}"
    return str(request.getfixturevalue("postgres_url"))
