"""The API in process (no workers): auth on every route, caps, confined paths, bad input."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from nas.errors import OptionError
from nas.service.app import create_app
from nas.service.auth import OPEN_PATHS
from nas.service.config import ServiceConfig
from nas.service.server import check_token
from tests.conftest import zip_bomb_npz
from tests.service.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config(tmp_path: Path) -> ServiceConfig:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.csv").write_text("arch,accuracy\n")
    # a benchmark table whose accuracy column is not called "accuracy" (nb201_hw.csv's kind)
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    (data / "hw.csv").write_text(f"arch,cifar10_valid,latency_ms\n{cell},90.1,2.5\n")
    return ServiceConfig(
        storage=f"sqlite:///{tmp_path / 'studies.db'}",
        token=TOKEN,
        data_dir=data,
        max_body_bytes=4096,
        max_upload_bytes=64 * 1024,
    )


@pytest.fixture
def client(config: ServiceConfig) -> TestClient:
    return TestClient(create_app(config), raise_server_exceptions=False)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_healthz_needs_the_token(client: TestClient) -> None:
    routes = [r for r in client.app.routes if isinstance(r, (APIRoute, Route))]
    assert len(routes) >= 15  # the API, /openapi.json, the login pages...
    checked = 0
    for route in routes:
        for method in route.methods or ():
            if method == "HEAD":
                continue
            url = _concrete(route.path)
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                r = client.request(method, url, headers=headers, follow_redirects=False)
                if route.path in OPEN_PATHS:  # /healthz, and the login pages (nas.service.web)
                    assert "missing or wrong token" not in r.text, (method, url)
                    assert r.status_code in (200, 303, 401 if url == "/login" else 200)
                else:
                    assert r.status_code == 401, (method, url, headers, r.status_code)
            checked += 1
    assert checked >= 15
    assert client.get("/no/such/route").status_code == 401  # unknown paths too
    assert client.get("/healthz").status_code == 200
    assert client.get("/dashboard/").status_code == 401  # mounted, not in the route table
    assert client.get("/api/searches", headers=AUTH).status_code == 200


def test_no_cdn_docs_pages_and_the_schema_for_the_token(client: TestClient) -> None:
    # Swagger UI and ReDoc load their scripts from a CDN (blank offline): they are off
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path, headers=AUTH).status_code == 404, path
    assert client.get("/openapi.json").status_code == 401
    schema = client.get("/openapi.json", headers=AUTH)
    assert schema.status_code == 200 and "/api/searches" in schema.json()["paths"]


def test_token_rules() -> None:
    with pytest.raises(OptionError, match="needs a token"):
        check_token(None, no_auth=False, host="127.0.0.1")
    with pytest.raises(OptionError, match="only allowed on 127.0.0.1"):
        check_token(None, no_auth=True, host="0.0.0.0")
    with pytest.raises(OptionError, match="at least 16"):
        check_token("short", no_auth=False, host="127.0.0.1")
    check_token(None, no_auth=True, host="127.0.0.1")


def test_request_size_is_capped(client: TestClient) -> None:
    r = client.post("/api/searches", headers=AUTH, content=b"{" + b" " * 8000 + b"}")
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    r = client.post(
        "/api/searches", headers={**AUTH, "Content-Type": "application/json"}, content=chunks()
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"space": "nb201", "evaluator": "table:../secret.csv"},
            "leaves the server's data folder",
        ),
        ({"space": "nb201", "evaluator": "table:/etc/passwd"}, "inside the server's data folder"),
        ({"data": "../secret.csv"}, "leaves the server's data folder"),
        ({"space": "/etc/hosts.yaml"}, "inside the server's data folder"),
        ({"storage": "sqlite:////tmp/other.db"}, "the server decides storage"),
        ({"workers": 4}, "the server decides workers"),
        ({"target": "remote:10.0.0.1:9000"}, "not allowed here"),
        ({"budget": 0}, "budget"),
        ({"strategy": "nope"}, "nope"),
        ({"space": "no-such-space"}, "no-such-space"),
        # what nas search refuses before it writes anything (nas.search.driver.check_search), so a
        # request is refused too instead of being queued to fail in a worker
        ({"space": "mobile", "strategy": "darts"}, "--strategy darts needs a cell space"),
        (
            {"space": "nb201", "evaluator": "table:hw.csv", "data": "digits"},
            "--data is not used with a table evaluator",
        ),
        ({"space": "nb201", "evaluator": "table:hw.csv"}, "has no accuracy column 'accuracy'"),
        ({"space": "nb201", "budget": 20000}, "more than the 15625 distinct architectures"),
    ],
)
def test_bad_submissions_are_refused_with_a_reason(client: TestClient, options, message) -> None:
    r = client.post("/api/searches", headers=AUTH, json=options)
    assert r.status_code in (400, 422), r.text
    assert message in r.text
    assert client.get("/api/searches", headers=AUTH).json() == []  # nothing was queued


def test_a_request_nas_search_accepts_is_queued(client: TestClient) -> None:
    for options in ({"space": "nb201", "evaluator": "synthetic", "budget": 3}, {}):
        r = client.post("/api/searches", headers=AUTH, json=options)
        assert r.status_code == 201, r.text
    states = [s["state"] for s in client.get("/api/searches", headers=AUTH).json()]
    assert states == ["queued", "queued"]


def test_every_builtin_data_set_of_nas_search_is_listed_and_accepted_where_installed(
    client: TestClient, tmp_path: Path, monkeypatch
) -> None:
    from nas.data import BUILTIN, FASHION

    # Fashion-MNIST "installed" (the folder Debian's package fills) and then not
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    (fashion / "train-images-idx3-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv("NAS_FASHION_MNIST", str(fashion))
    listed = client.get("/api/datasets", headers=AUTH).json()["builtin"]
    assert [d["name"] for d in listed] == list(BUILTIN)  # nas search's names, one source
    assert all(d["available"] and d["reason"] is None for d in listed)
    for name in BUILTIN:
        r = client.post("/api/searches", headers=AUTH, json={"space": "mobile", "data": name})
        assert r.status_code == 201, r.text
        assert r.json()["options"]["data"] == name  # a name, not a path in the data folder

    monkeypatch.setenv("NAS_FASHION_MNIST", str(tmp_path / "nowhere"))
    listed = {d["name"]: d for d in client.get("/api/datasets", headers=AUTH).json()["builtin"]}
    assert not listed[FASHION]["available"]
    assert "Fashion-MNIST is not installed in" in listed[FASHION]["reason"]
    r = client.post("/api/searches", headers=AUTH, json={"space": "mobile", "data": FASHION})
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert detail.startswith("Fashion-MNIST is not installed in") and "on this server" in detail
    assert "POST /api/datasets" in detail and "\n" not in detail
    assert len(client.get("/api/searches", headers=AUTH).json()) == len(BUILTIN)


def test_upload_reads_npz_without_pickles(client: TestClient, config: ServiceConfig) -> None:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((4, 1, 8, 8), np.float32), y=np.arange(4))
    r = client.post("/api/datasets", headers=AUTH, files={"file": ("d.npz", buf.getvalue())})
    assert r.status_code == 201, r.text
    name = r.json()["data"]
    assert (config.data_dir / name).exists() and r.json()["samples"] == 4
    assert name in client.get("/api/datasets", headers=AUTH).json()["files"]
    pickled = io.BytesIO()
    np.savez(pickled, x=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    r = client.post("/api/datasets", headers=AUTH, files={"file": ("p.npz", pickled.getvalue())})
    assert r.status_code == 400 and "Python objects (a pickle)" in r.text
    big = b"\0" * (65 * 1024)
    r = client.post("/api/datasets", headers=AUTH, files={"file": ("b.npz", big)})
    assert r.status_code == 413


def test_upload_refuses_a_zip_bomb_from_its_directory_off_the_event_loop(
    client: TestClient, config: ServiceConfig, monkeypatch
) -> None:
    import asyncio

    import nas.service.uploads as uploads

    checked_on_loop = []
    check = uploads.check_npz

    def spy(raw: bytes):  # the check (and the write) run in a worker thread, not on the loop
        try:
            asyncio.get_running_loop()
            checked_on_loop.append(True)
        except RuntimeError:
            checked_on_loop.append(False)
        return check(raw)

    monkeypatch.setattr(uploads, "check_npz", spy)
    bomb = zip_bomb_npz(3_000_000_000)  # 385 bytes that say x unpacks to 3 GB
    r = client.post("/api/datasets", headers=AUTH, files={"file": ("bomb.npz", bomb)})
    assert r.status_code == 413, r.text
    detail = r.json()["detail"]
    assert "unpack to 3,000,000,448 bytes" in detail and "MAX_NPZ_UNPACKED_BYTES" in detail
    assert "\n" not in detail
    assert checked_on_loop == [False]
    assert not (config.data_dir / "uploads").exists()  # nothing was kept
    truncated = zip_bomb_npz(2000)  # within the cap, but the member is shorter than it says
    r = client.post("/api/datasets", headers=AUTH, files={"file": ("t.npz", truncated)})
    assert r.status_code == 400, r.text


def test_unknown_search_is_404_and_catalogue_answers(client: TestClient) -> None:
    for path in ("/api/searches/7", "/api/searches/7/progress", "/api/searches/7/front"):
        assert client.get(path, headers=AUTH).status_code == 404
    assert client.post("/api/searches/7/cancel", headers=AUTH).status_code == 404
    assert "nb201" in client.get("/api/spaces", headers=AUTH).json()["builtin"]
    assert "random" in client.get("/api/strategies", headers=AUTH).json()
    assert client.get("/api/targets", headers=AUTH).json() == ["cpu", "onnxruntime"]
    m = client.get("/metrics", headers=AUTH)
    assert m.status_code == 200 and 'nas_searches{state="queued"} 0.0' in m.text


def test_export_pick_takes_the_cli_words_and_the_api_aliases(client: TestClient) -> None:
    """``?pick=`` agrees with ``nas export --pick`` (latency, accuracy, knee); fastest and
    most-accurate stay accepted; anything else is refused before the search is looked up."""
    from nas.export.select import PICKS

    for pick in (*PICKS, "fastest", "most-accurate", "trial:3"):
        r = client.get(f"/api/searches/7/export?pick={pick}", headers=AUTH)
        assert r.status_code == 404, (pick, r.text)  # accepted: no search 7 here
    for pick in ("slowest", "trial:x", "Latency"):
        r = client.get(f"/api/searches/7/export?pick={pick}", headers=AUTH)
        assert r.status_code == 422, (pick, r.text)
    schema = client.get("/openapi.json", headers=AUTH).json()
    params = schema["paths"]["/api/searches/{search_id}/export"]["get"]["parameters"]
    pick = next(p for p in params if p["name"] == "pick")
    assert (
        "as nas export --pick (fastest = latency, most-accurate = accuracy)"
        in (pick["description"])
    )
