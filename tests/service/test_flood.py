"""``nas serve`` against clients without a token (issue 25 item 3): a real server process, no
workers. The in-process tests of the timeouts are in tests/test_serving.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.service.helpers import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, slots=0).start()
    try:
        yield s
    finally:
        s.stop()


def _address(server: Server) -> tuple[str, int]:
    u = urlsplit(server.url)
    assert u.hostname is not None and u.port is not None
    return u.hostname, u.port


def _exchange(server: Server, head: bytes) -> bytes:
    """Send ``head`` and read until the server closes the connection."""
    with socket.create_connection(_address(server), timeout=60) as s:
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_silent_connections_do_not_shut_out_the_service(server: Server) -> None:
    # 520 connections that send nothing used to fill uvicorn's limit of 500 connections, and
    # every request, /healthz included, was answered 503
    idle = [socket.create_connection(_address(server), timeout=60) for _ in range(520)]
    try:
        health = _exchange(
            server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert health.startswith(b"HTTP/1.1 200")
        assert server.client().searches() == []
    finally:
        for s in idle:
            s.close()


def test_unauthenticated_upload_is_answered_from_its_head(server: Server) -> None:
    head = (
        b"POST /api/datasets?name=x HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n"
    )
    data = _exchange(server, head)  # 100 MiB announced, none sent: answered and closed
    assert data.startswith(b"HTTP/1.1 401") and b"token" in data
