"""docs/service.md's command blocks (curl, ``nas submit``/``status``/``cancel``, the dashboard's
login) run as written in bash against a real ``nas serve``, on the NAS-Bench-201 table the
docs name. Only the server's address, the table's folder and the data folder are substituted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.service.helpers import BENCH, Server

DOC = ROOT / "docs" / "service.md"
TABLE = BENCH / "nb201_hw.csv"
EXPORT_LINE = (
    "curl -s -H \"$H\" -o knee.zip 'http://127.0.0.1:8080/api/searches/2/export?pick=knee'"
)


def _bash_blocks() -> dict[str, str]:
    """The page's ```bash blocks, by their first word."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    return {b.split()[0].split("=")[0]: b for b in blocks}


def _run(script: str, server: Server, cwd: Path) -> str:
    script = (
        script.replace("http://127.0.0.1:8080", server.url)
        .replace("../shared/bench/", f"{BENCH}/")
        .replace("nas_data/", f"{server.data}/")
    )
    env = server.env()
    env["PATH"] = f"{cwd / 'bin'}{os.pathsep}{env['PATH']}"
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (script, r.stdout, r.stderr)
    return r.stdout


@pytest.mark.skipif(not TABLE.exists(), reason=f"{TABLE} not found (NAS_BENCH_DIR)")
def test_the_service_pages_commands_work_as_written(tmp_path: Path) -> None:
    blocks = _bash_blocks()
    curl, cli, login = blocks["H"], blocks["nas"], blocks["curl"]
    assert blocks["nas"].startswith("nas submit")
    # the export needs a finished supernet search (tests/service/test_service_export_e2e.py
    # downloads one); every other line runs here
    assert EXPORT_LINE in curl
    curl = curl.replace(EXPORT_LINE, "")

    work = tmp_path / "work"
    (work / "bin").mkdir(parents=True)
    nas = work / "bin" / "nas"  # `nas` on PATH, as after installing the package
    nas.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nas "$@"\n')
    nas.chmod(0o755)
    np.savez(work / "my.npz", x=np.zeros((20, 1, 8, 8), np.float32), y=np.arange(20) % 2)
    server = Server(tmp_path, slots=1).start()
    try:
        out = _run(curl, server, work)
        assert '"detail"' not in out, out  # no request was refused
        assert '"id":1' in out and '"evaluator":"table:' in out
        assert 'event: end\ndata: {"state": "done"}' in out  # the search ran to its end
        assert '"name":"fashion-mnist"' in out and '"data":"uploads/' in out
        assert (server.data / "nb201_hw.csv").exists()

        out = _run(cli, server, work)
        assert "search 2 queued" in out and "cancel requested" in out, out
        searches = server.client().searches()
        assert [(s["id"], s["state"]) for s in searches] == [(2, "done"), (1, "done")]
        assert searches[0]["options"]["accuracy_column"] == "cifar10_valid"

        out = _run(login, server, work)
        assert out.startswith("{") and "props" in out  # Dash's layout, through the cookie
    finally:
        server.stop()
