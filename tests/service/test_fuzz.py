"""Property-based fuzzing of the OpenAPI schema (schemathesis): no request earns a 500.

In process (ASGI), against an app whose storage holds one cancelled search, so that the
per-search routes are exercised on a real row as well as on missing ones. The example count is
kept small for CI's time; the generated requests are reproducible (derandomized).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from nas.service import queue as q
from nas.service.app import ServiceConfig, create_app
from nas.storage import Store
from tests.service.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(tmp: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp / 'studies.db'}"
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    app = create_app(ServiceConfig(storage=url, token=TOKEN, data_dir=data))
    store = Store(url)
    s = q.submit(store, {"space": "nb201"}, study_name="fuzzed", budget=3)
    q.request_cancel(store, s.id)
    return app


_TMP = Path(__import__("tempfile").mkdtemp(prefix="nas-fuzz-"))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app(_TMP), headers=AUTH)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])


def test_schema_lists_the_api() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {"/api/searches", "/api/searches/{search_id}/events", "/healthz", "/metrics"} <= paths


@pytest.fixture(scope="module", autouse=True)
def _cleanup():  # type: ignore[no-untyped-def]
    yield
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)
