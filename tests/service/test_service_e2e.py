"""``nas serve`` end to end: real server and worker processes, the tabular evaluator."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.client import ClientError
from tests.service.helpers import TABLE, Server, wait_for

pytestmark = pytest.mark.skipif(
    not TABLE.exists(), reason="shared/bench is not beside the checkout"
)

TABLE_SEARCH = dict(space="nb201", evaluator="table:nb201.csv", strategy="random")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, slots=2).start()
    try:
        yield s
    finally:
        s.stop()


def test_submit_watch_front_trials(server: Server) -> None:
    c = server.client()
    s = c.submit(**TABLE_SEARCH, budget=12, seed=3)
    assert s["state"] == "queued" and s["budget"] == 12
    seen = [p["complete"] for p in c.events(s["id"], interval=0.2)]
    assert seen and seen == sorted(seen)  # progress only moves forward
    p = c.progress(s["id"])
    assert (p["state"], p["complete"], p["budget"]) == ("done", 12, 12)
    assert 0 < p["best_accuracy"] <= 1 and p["front_size"] >= 1
    front = c.front(s["id"])
    assert len(front) == p["front_size"]
    lat = [t["latency_ms"] for t in front]
    assert lat == sorted(lat)
    trials = c.trials(s["id"])
    assert sum(t["state"] == "complete" for t in trials) == 12
    assert [x["id"] for x in c.searches()] == [s["id"]]
    # the table study has no supernet to export from: a clear 400, not a crash
    with pytest.raises(ClientError) as err:
        c.export(s["id"], server.tmp / "x.zip")
    assert err.value.status == 400 and "no network weights to export" in err.value.detail


def test_command_line_submit_status_cancel(server: Server) -> None:
    import subprocess

    from tests.conftest import nas_cmd

    def nas(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            nas_cmd(*args, "--server", server.url),
            capture_output=True, text=True, env=server.env(), timeout=300,
        )  # fmt: skip

    r = nas("submit", "--space", "nb201", "--evaluator", "table:nb201.csv", "--budget", "4",
            "--strategy", "random", "--wait")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "search 1 queued" in r.stdout and "search 1: done, 4/4 complete" in r.stdout
    r = nas("status")
    assert r.returncode == 0 and " done " in r.stdout
    r = nas("submit", "--space", "nb201", "--evaluator", "synthetic:5", "--budget", "100")
    assert r.returncode == 0
    r = nas("cancel", "2")
    assert r.returncode == 0 and r.stdout.startswith("search 2: ")
    r = nas("submit", "--workers", "3")
    assert r.returncode == 2
    assert r.stderr.strip() == "nas: error: server: 400: the server decides workers; leave it out"
    env = {**server.env(), "NAS_TOKEN": "wrong-token-wrong-token"}
    r = subprocess.run(nas_cmd("status", "--server", server.url), capture_output=True,
                       text=True, env=env, timeout=300)  # fmt: skip
    assert r.returncode == 2 and "401: missing or wrong token" in r.stderr


def test_cancel_stops_within_seconds_and_fails_the_running_trial(server: Server) -> None:
    import time

    c = server.client()
    s = c.submit(space="nb201", evaluator="synthetic:1.5", strategy="random", budget=500)
    wait_for(lambda: c.progress(s["id"])["complete"] >= 1)
    t0 = time.monotonic()
    c.cancel(s["id"])
    wait_for(lambda: c.progress(s["id"])["state"] == "cancelled", timeout=15)
    assert time.monotonic() - t0 < 10
    trials = c.trials(s["id"])
    failed = [t for t in trials if t["state"] == "fail"]
    assert [t["fail_reason"] for t in failed] == ["cancelled"]
    assert not [t for t in trials if t["state"] == "running"]
    # a queued search is cancelled at once, and a cancelled one stays so
    assert c.cancel(s["id"])["state"] == "cancelled"


def test_ten_concurrent_submissions_end_with_exactly_their_budgets(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = server.client()
    budgets = [3 + i for i in range(10)]
    with ThreadPoolExecutor(10) as pool:
        subs = list(pool.map(lambda b: c.submit(**TABLE_SEARCH, budget=b, seed=b), budgets))
    assert len({s["study"] for s in subs}) == 10
    for s, b in zip(subs, budgets, strict=True):
        p = c.wait(s["id"], timeout=300)
        assert (p["state"], p["complete"]) == ("done", b)
    con = sqlite3.connect(server.storage.removeprefix("sqlite:///"))
    rows = con.execute(
        "SELECT s.study_name, COUNT(*) FROM trials t JOIN studies s USING (study_id) "
        "WHERE t.state = 'COMPLETE' GROUP BY s.study_name"
    ).fetchall()
    assert sorted(n for _, n in rows) == budgets


def test_kill9_and_restart_resumes_without_redoing_trials(tmp_path: Path) -> None:
    srv = Server(tmp_path, slots=1).start()
    c = srv.client()
    running = c.submit(space="nb201", evaluator="synthetic:0.3", strategy="random", budget=30)
    queued = c.submit(**TABLE_SEARCH, budget=5)
    wait_for(lambda: c.progress(running["id"])["complete"] >= 5)
    srv.kill9()
    db = srv.storage.removeprefix("sqlite:///")
    con = sqlite3.connect(db)
    before = {
        r[0]
        for r in con.execute(
            "SELECT t.number FROM trials t JOIN studies s USING (study_id) "
            "WHERE s.study_name = ? AND t.state = 'COMPLETE'",
            (running["study"],),
        )
    }
    con.close()
    assert len(before) >= 5
    srv2 = Server(tmp_path, slots=1).start()
    try:
        c2 = srv2.client()
        p = c2.wait(running["id"], timeout=300)
        assert (p["state"], p["complete"]) == ("done", 30)
        assert c2.wait(queued["id"], timeout=120)["state"] == "done"
        trials = c2.trials(running["id"])
        complete = [t for t in trials if t["state"] == "complete"]
        assert len(complete) == 30
        # the trials completed before the crash are still there, none was redone
        assert before <= {t["number"] for t in complete}
        assert len({t["arch"] for t in complete}) == 30
        assert c2.search(running["id"])["attempts"] == 2
    finally:
        srv2.stop()
