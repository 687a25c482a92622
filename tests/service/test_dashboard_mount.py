"""The dashboard inside ``nas serve`` (in process): its login, the cookie, and that its pages
and Dash callbacks answer below ``/dashboard/`` (tests/integration/test_serve_dashboard_browser.py
draws it in a real browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nas.service import web
from nas.service.app import create_app
from nas.service.config import ServiceConfig
from tests.conftest import TINY
from tests.dashboard.synthetic import make_study
from tests.service.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _config(tmp: Path, token: str | None = TOKEN) -> ServiceConfig:
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    return ServiceConfig(storage=f"sqlite:///{tmp / 'studies.db'}", token=token, data_dir=data)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    config = _config(tmp_path)
    make_study(config.storage, "s", 4, space=str(TINY))
    return TestClient(create_app(config), follow_redirects=False)


def _route_call(path: str) -> dict:
    """Dash's request for the ``route`` callback, as the browser sends it on a link click."""
    return {
        "output": "page.children",
        "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": path}],
        "changedPropIds": ["url.pathname"],
        "state": [{"id": "page-path", "property": "data", "value": "/dashboard/"}],
    }


def _login(client: TestClient, token: str = TOKEN, target: str = "/dashboard/"):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"token": token, "next": target})


def test_without_the_token_pages_go_to_the_login_and_the_rest_is_refused(
    client: TestClient,
) -> None:
    r = client.get("/dashboard/study/s?x=1", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdashboard%2Fstudy%2Fs%3Fx%3D1"
    for path in ("/dashboard/", "/dashboard/_dash-layout", "/dashboard/_dash-dependencies"):
        assert client.get(path).status_code == 401, path
    r = client.post("/dashboard/_dash-update-component", json=_route_call("/dashboard/study/s"))
    assert r.status_code == 401
    wrong = {"Cookie": f"{web.COOKIE}={web.cookie_value('another-token-0123456789')}"}
    assert client.get("/dashboard/_dash-layout", headers=wrong).status_code == 401
    assert (
        client.get("/dashboard/", headers={"Cookie": f"{web.COOKIE}={TOKEN}"}).status_code == 401
    )
    # the login form itself is open, and shows nothing of the studies
    form = client.get("/login?next=/dashboard/study/s")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert 'value="/dashboard/study/s"' in form.text and "studies.db" not in form.text
    assert client.get("/").headers["location"] == "/dashboard/"


def test_a_wrong_token_sets_no_cookie(client: TestClient) -> None:
    r = _login(client, "wrong-token-wrong-token")
    assert r.status_code == 401 and "Wrong token" in r.text
    assert "set-cookie" not in r.headers
    assert client.get("/dashboard/_dash-layout").status_code == 401


def test_login_sets_a_strict_httponly_cookie_that_opens_the_dashboard_only(
    client: TestClient,
) -> None:
    r = _login(client, target="/dashboard/study/s")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/study/s"
    cookie = r.headers["set-cookie"]
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attrs
    assert "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert TOKEN not in cookie  # an HMAC of the token, not the token
    # pages and Dash's own endpoints answer with the cookie
    page = client.get("/dashboard/study/s", headers=HTML)
    assert page.status_code == 200 and "/dashboard/_dash-component-suites/" in page.text
    layout = client.get(
        "/dashboard/_dash-layout", headers={"Referer": "http://x/dashboard/study/s"}
    )
    assert layout.status_code == 200
    assert '"study-name"' in layout.text and "4 complete" in layout.text
    assert client.get("/dashboard/_dash-dependencies").status_code == 200
    # a callback: the route to a study page, and the home page's table with its link
    r = client.post("/dashboard/_dash-update-component", json=_route_call("/dashboard/study/s"))
    assert r.status_code == 200 and '"study-name"' in r.text
    body = {
        "output": "..studies-view.children...compare-select.options...compare-select.value..",
        "outputs": [
            {"id": "studies-view", "property": "children"},
            {"id": "compare-select", "property": "options"},
            {"id": "compare-select", "property": "value"},
        ],
        "inputs": [{"id": "home-sig", "property": "data", "value": "x"}],
        "changedPropIds": ["home-sig.data"],
        "state": [{"id": "compare-select", "property": "value", "value": None}],
    }
    r = client.post("/dashboard/_dash-update-component", json=body)
    assert r.status_code == 200
    assert '"href": "/dashboard/study/s"' in json.dumps(r.json())
    # the cookie opens the dashboard, not the API (a page cannot submit with it)
    assert client.get("/api/searches").status_code == 401
    assert client.post("/api/searches", json={"budget": 1}).status_code == 401
    # logging out ends it
    assert client.get("/logout").status_code == 303
    assert client.get("/dashboard/_dash-layout").status_code == 401


def test_the_bearer_header_opens_the_dashboard_too(client: TestClient) -> None:
    r = client.get("/dashboard/_dash-layout", headers={**AUTH, "Referer": "http://x/dashboard/"})
    assert r.status_code == 200 and "studies-view" in r.text


def test_the_login_sends_only_to_dashboard_pages(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/dashboard/", "/api/searches", ""):
        r = _login(client, target=target)
        assert r.status_code == 303 and r.headers["location"] == "/dashboard/", target


def test_without_auth_the_dashboard_is_open(tmp_path: Path) -> None:
    client = TestClient(create_app(_config(tmp_path, token=None)), follow_redirects=False)
    assert client.get("/dashboard/_dash-layout").status_code == 200
    assert client.get("/login").headers["location"] == "/dashboard/"


# Dash serves scripts from the packages it registered; any other path below
# _dash-component-suites raised DependencyException, which Flask answered with a 500
TRAVERSALS = (
    "/dashboard/_dash-component-suites/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/dashboard/_dash-component-suites/dash/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/dashboard/_dash-component-suites/dash/..%2f..%2f..%2f..%2fetc%2fpasswd.js",
    "/dashboard/_dash-component-suites/%2E%2E/%2E%2E/etc/passwd",
    "/dashboard/_dash-component-suites/nosuch/x.js",
    "/dashboard/_dash-component-suites/dash/not-registered.js",
    "/dashboard/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
)


def _refused_cleanly(status: int, body: bytes) -> bool:
    return status in (400, 404) and b"root:" not in body


def test_paths_out_of_the_script_folders_are_not_found(client: TestClient) -> None:
    for path in TRAVERSALS:
        # httpx keeps percent-encoded dots as they are: the app sees them decoded
        r = client.get(path, headers=AUTH)
        assert _refused_cleanly(r.status_code, r.content), (path, r.status_code)
    renderer = "/dashboard/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js"
    ok = client.get(renderer, headers=AUTH)
    assert ok.status_code == 200  # the registered scripts are still served


def test_raw_dot_segments_over_http_are_not_found(tmp_path: Path) -> None:
    # an HTTP client normalises "/../"; a raw request line reaches a real server as written
    import socket
    from urllib.parse import urlsplit

    from tests.service.helpers import Server

    server = Server(tmp_path, slots=0).start()
    try:
        u = urlsplit(server.url)
        assert u.hostname is not None and u.port is not None
        raw = (
            "/dashboard/_dash-component-suites/../../../../etc/passwd",
            "/dashboard/_dash-component-suites/dash/../../../../../etc/passwd",
            "/dashboard/_dash-component-suites/dash/deps/../../../../../../etc/passwd.js",
            *TRAVERSALS,
        )
        for path in raw:
            head = (
                f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            with socket.create_connection((u.hostname, u.port), timeout=60) as s:
                s.sendall(head)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            status = int(data.split(b" ", 2)[1])
            assert _refused_cleanly(status, data), (path, data[:200])
    finally:
        server.stop()
