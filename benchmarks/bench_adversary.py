"""``nas serve`` as an adversary meets it (issue 25), on loopback with bounded counts.

Starts ``nas serve --slots 0`` (no workers: nothing queued runs) on a free loopback port with
SQLite in a temporary folder, then:

1. **Fuzzing**: schemathesis generates ``--examples`` requests per operation of the live
   server's OpenAPI schema and sends them over HTTP with the token; each answer is checked for a
   5xx and for conformance to the schema (status code, content type, body). A request that gets
   no answer within ``--timeout`` seconds counts as a hang.
2. **Connection flood**: ``--connections`` sockets that connect and send nothing (uvicorn's own
   limit was 500: 520 used to shut every client out), then ``GET /healthz`` and an
   authenticated ``GET /api/searches`` while they are open.
3. **Zip bomb**: a real ``.npz`` whose ``x.npy`` is ``--bomb-mb`` MiB of zeros, deflated to a
   few MB, uploaded to ``POST /api/datasets``; held when it is refused (413) beyond the cap of
   ``nas.limits.MAX_NPZ_UNPACKED_BYTES`` (2 GiB; taken, 201, within it), ``/healthz`` answers
   within 5 s during the upload and the server's memory grows by less than the unpacked size.

Prints a markdown table of tried/held per attack with the machine and its load, and writes it
to ``--out`` (default ``benchmarks/results/adversary.md``). Every loop is bounded; only loopback
traffic. A smoke check takes about half a minute:

    .venv/bin/python benchmarks/bench_adversary.py --examples 2 --connections 20 --bomb-mb 64

(the 64 MiB "bomb" is within the cap: it checks that a good upload is still taken). The
defaults are the issue's run (50 examples per operation, 520 connections, a 3 GiB bomb, which
takes some seconds to deflate); run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "adversary.md"
TOKEN = "bench-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Row:
    attack: str
    tried: int
    held: int
    notes: str


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    env = dict(os.environ, NAS_TOKEN=TOKEN, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas", "serve", "--port", "0", "--slots", "0",
         "--storage", f"sqlite:///{tmp / 'studies.db'}", "--data-dir", str(data)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp,
    )  # fmt: skip
    assert proc.stdout is not None
    m = re.search(r"(http://127\.0\.0\.1:\d+)", proc.stdout.readline())
    assert m, "server did not start"
    return proc, m.group(1)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port)


def raw_get(url: str, path: str, timeout: float, token: bool = False) -> tuple[int, float]:
    """Status of ``GET path`` on a fresh connection (0: no answer in time) and its seconds."""
    auth = f"Authorization: Bearer {TOKEN}\r\n" if token else ""
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode()
    t0 = time.monotonic()
    try:
        with socket.create_connection(_address(url), timeout=timeout) as s:
            s.sendall(head)
            data = s.recv(64)
    except OSError:
        return 0, time.monotonic() - t0
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return (int(m.group(1)) if m else 0), time.monotonic() - t0


def fuzz(url: str, examples: int, timeout: float) -> Row:
    """Schemathesis over HTTP: every operation, ``examples`` generated requests each."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.core.result import Ok

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=AUTH)
    tried = errors = hangs = refused = 0  # refused: answers the schema does not document
    failed: dict[str, set[str]] = {}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # an operation the schema describes wrongly
            raise result.err()
        op = result.ok()

        @given(op.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal tried, errors, hangs, refused
            tried += 1
            label = case.operation.label
            if label.endswith("/events"):
                # a queued search (no workers here) streams until max_seconds, up to a day:
                # a silent stream is not a hang
                case.query = {**(case.query or {}), "max_seconds": 2}
            try:
                response = case.call(base_url=url, headers=AUTH, timeout=timeout)
            except Exception as exc:  # a timeout or a dropped connection
                hangs += 1
                failed.setdefault(label, set()).add(type(exc).__name__)
                return
            errors += response.status_code >= 500
            try:
                case.validate_response(response, checks=checks, headers=AUTH)
            except Exception as exc:  # schemathesis's FailureGroup: one or more checks failed
                refused += 1
                failed.setdefault(label, set()).add(str(exc).splitlines()[0][:80])

        run()
    bad = sum(len(v) for v in failed.values())
    notes = (
        f"{errors} server errors, {hangs} hangs, {refused} answers off the schema, "
        f"{bad} distinct failures"
    )
    if failed:
        notes += ": " + "; ".join(f"{k} ({', '.join(sorted(v))})" for k, v in failed.items())
    held = tried - hangs - refused  # a 5xx fails not_a_server_error: it is among refused
    return Row(f"schemathesis, {examples} examples per operation", tried, held, notes)


def flood(url: str, connections: int) -> Row:
    """``connections`` silent sockets, then /healthz and the API while they are open."""
    idle = []
    try:
        for _ in range(connections):
            idle.append(socket.create_connection(_address(url), timeout=30))
        health, t_health = raw_get(url, "/healthz", timeout=30)
        api, t_api = raw_get(url, "/api/searches", timeout=30, token=True)
    finally:
        for s in idle:
            s.close()
    held = int(health == 200) + int(api == 200)
    notes = (
        f"{len(idle)} silent connections open; /healthz {health} in {t_health:.2f} s, "
        f"/api/searches {api} in {t_api:.2f} s"
    )
    return Row(f"connection flood ({connections} silent)", 2, held, notes)


def zip_bomb(mib: int) -> bytes:
    """A real ``.npz``: ``x.npy`` is ``mib`` MiB of zeros (uint8 images), deflated."""
    n = mib * (1 << 20) // (8 * 8 * 3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as member:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": (n, 8, 8, 3)}
            )
            member.write(header.getvalue())
            chunk = bytes(1 << 20)
            left = n * 8 * 8 * 3
            while left:
                member.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
        y = io.BytesIO()
        np.lib.format.write_array(y, np.arange(n, dtype=np.int64) % 2, allow_pickle=False)
        z.writestr("y.npy", y.getvalue())
    return buf.getvalue()


def bomb(url: str, pid: int, mib: int) -> Row:
    """Upload the bomb; meanwhile ask /healthz every half second. Held: refused (413) beyond
    ``nas.limits.MAX_NPZ_UNPACKED_BYTES``, taken (201) within it, and either way the server
    answers /healthz and does not unpack it into memory."""
    import httpx

    from nas.limits import MAX_NPZ_UNPACKED_BYTES

    expected = 413 if mib << 20 > MAX_NPZ_UNPACKED_BYTES else 201

    raw = zip_bomb(mib)
    before = rss_mb(pid)
    peak = before
    answer: list[int] = []
    health: list[tuple[int, float]] = []

    def upload() -> None:
        r = httpx.post(
            f"{url}/api/datasets",
            headers=AUTH,
            files={"file": ("bomb.npz", raw, "application/octet-stream")},
            timeout=300,
        )
        answer.append(r.status_code)

    t0 = time.monotonic()
    t = threading.Thread(target=upload)
    t.start()
    while t.is_alive():
        health.append(raw_get(url, "/healthz", timeout=5))
        peak = max(peak, rss_mb(pid))
        t.join(0.5)
    seconds = time.monotonic() - t0
    status = answer[0] if answer else 0
    slow = [s for code, s in health if code != 200 or s > 5]
    grew = peak - before
    held = int(status == expected and not slow and grew < mib)
    notes = (
        f"{len(raw) / 1e6:.1f} MB unpacking to {mib} MiB: {status} (expected {expected}) in "
        f"{seconds:.1f} s; "
        f"{len(health) - len(slow)}/{len(health)} /healthz answered within 5 s; "
        f"server {before:.0f} -> peak {peak:.0f} MB"
    )
    return Row("zip bomb upload", 1, held, notes)


def markdown(rows: list[Row], args: argparse.Namespace, seconds: float) -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# nas serve against an adversary (benchmarks/bench_adversary.py)",
        "",
        f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {load}; {seconds:.0f} s in all; `--examples {args.examples} --connections "
        f"{args.connections} --bomb-mb {args.bomb_mb}`",
        "",
        "| attack | tried | held | notes |",
        "|---|---:|---:|---|",
        *(f"| {r.attack} | {r.tried} | {r.held} | {r.notes} |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=50, help="generated requests per operation")
    ap.add_argument("--connections", type=int, default=520, help="silent connections")
    ap.add_argument("--bomb-mb", type=int, default=3072, help="the zip bomb's unpacked MiB")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a hang")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nas-bench-adversary-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            rows = [
                fuzz(url, args.examples, args.timeout),
                flood(url, args.connections),
                bomb(url, proc.pid, args.bomb_mb),
            ]
        finally:
            stop(proc)
    text = markdown(rows, args, time.monotonic() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
