"""Property-based fuzzing of the OpenAPI schema (schemathesis): no request earns a 500, and
every answer is one the schema documents (its status code, content type and body schema).

In process (ASGI), against an app whose storage holds one cancelled search, so that the
per-search routes are exercised on a real row as well as on missing ones. The example count is
kept small for CI's time; the generated requests are reproducible (derandomized).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from nas.service import queue as q
from nas.service.app import create_app
from nas.service.config import ServiceConfig
from nas.storage import Store
from tests.service.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,  # the 400, 404 and 409 answers used to be undocumented
    content_type_conformance,  # the event stream was documented as JSON
    response_schema_conformance,
]


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
def test_no_server_errors_and_every_answer_documented(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=AUTH, checks=CHECKS)


def test_schema_lists_the_api() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {"/api/searches", "/api/searches/{search_id}/events", "/healthz", "/metrics"} <= paths


def test_schema_documents_errors_the_event_stream_and_registry_enums() -> None:
    from nas.evaluators.base import LATENCY_MODES
    from nas.strategies import strategy_names

    raw = schema.raw_schema
    answers = raw["paths"]["/api/searches/{search_id}/export"]["get"]["responses"]
    assert {"200", "400", "401", "404", "409"} <= set(answers)
    error = answers["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(raw["paths"]["/api/searches"]["post"]["responses"]) >= {"201", "400", "409"}
    events = raw["paths"]["/api/searches/{search_id}/events"]["get"]["responses"]
    assert set(events["200"]["content"]) == {"text/event-stream"}
    assert set(events["404"]["content"]) == {"application/json"}
    options = raw["components"]["schemas"]["SearchOptions"]["properties"]
    assert options["latency"]["enum"] == list(LATENCY_MODES)
    assert {"type": "string", "enum": strategy_names()} in options["strategy"]["anyOf"]


@pytest.fixture(scope="module", autouse=True)
def _cleanup():  # type: ignore[no-untyped-def]
    yield
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)
