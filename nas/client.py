"""A small Python client of ``nas serve``.

    from nas.client import Client
    c = Client("http://127.0.0.1:8080", token)
    s = c.submit(space="nb201", budget=50, evaluator="table:nb201.csv")
    for p in c.events(s["id"]):
        print(p["complete"], "/", p["budget"])
    c.export(s["id"], "best.zip", pick="knee")

Written on the standard library's ``urllib`` so that the client needs nothing beyond nas.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class ClientError(RuntimeError):
    """The server answered with an error (``status``), or could not be reached (``status`` 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status, self.detail = status, detail


class Client:
    """The API at ``url`` with bearer ``token`` (``None``: a server started with --no-auth)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("NAS_TOKEN")
        self.timeout = timeout

    # ---- plumbing -------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> Any:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        req = urllib.request.Request(url, data=body, method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)  # noqa: S310 - our URL
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except ValueError:
                detail = exc.reason
            text = detail if isinstance(detail, str) else json.dumps(detail)
            raise ClientError(exc.code, text) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(0, f"cannot reach {self.url}: {reason}") from None
        if stream:
            return resp
        with resp:
            data = resp.read()
            if resp.headers.get_content_type() == "application/json":
                return json.loads(data)
            return data

    def _json(self, method: str, path: str, payload: Any = None, **kw: Any) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        return self._request(method, path, body=body, **kw)

    # ---- the API --------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._json("GET", "/healthz")

    def submit(self, **options: Any) -> dict[str, Any]:
        """Queue a search with ``nas search`` options (``space=``, ``budget=``, ...)."""
        return self._json("POST", "/api/searches", options)

    def searches(self, state: str | None = None) -> list[dict[str, Any]]:
        return self._json("GET", "/api/searches", query={"state": state})

    def search(self, search_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/searches/{search_id}")

    def progress(self, search_id: int) -> dict[str, Any]:
        return self._json("GET", f"/api/searches/{search_id}/progress")

    def events(self, search_id: int, interval: float = 1.0) -> Iterator[dict[str, Any]]:
        """Progress as it changes (server-sent events), until the search ends."""
        resp = self._request(
            "GET",
            f"/api/searches/{search_id}/events",
            query={"interval": interval},
            stream=True,
        )
        event = ""
        with resp:
            for raw in resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "progress":
                    yield json.loads(line[6:])
                elif line.startswith("data: ") and event == "end":
                    return

    def wait(self, search_id: int, timeout: float = 3600, poll: float = 0.5) -> dict[str, Any]:
        """Poll until the search has ended; its last progress."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.progress(search_id)
            if p["state"] in ("done", "failed", "cancelled"):
                return p
            if time.monotonic() > deadline:
                raise TimeoutError(f"search {search_id} still {p['state']} after {timeout} s")
            time.sleep(poll)

    def cancel(self, search_id: int) -> dict[str, Any]:
        return self._json("POST", f"/api/searches/{search_id}/cancel")

    def front(self, search_id: int) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/searches/{search_id}/front")

    def trials(self, search_id: int) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/searches/{search_id}/trials")

    def export(self, search_id: int, out: str | Path, pick: str = "knee") -> Path:
        """Write the zip of the picked trial's export artifacts to ``out``."""
        data = self._request("GET", f"/api/searches/{search_id}/export", query={"pick": pick})
        path = Path(out)
        path.write_bytes(data)
        return path

    def upload(self, npz: str | Path) -> str:
        """Upload a ``.npz`` data set; the name to pass as ``data=``."""
        boundary = uuid.uuid4().hex
        content = Path(npz).read_bytes()
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{Path(npz).name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        r = self._request(
            "POST",
            "/api/datasets",
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        return str(r["data"])

    def catalogue(self) -> dict[str, Any]:
        """Spaces, strategies, targets and data sets the server offers."""
        return {
            name: self._json("GET", f"/api/{name}")
            for name in ("spaces", "strategies", "targets", "datasets")
        }
