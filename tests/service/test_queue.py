"""The queue in the database: claims, takeover, cancel; `nas worker --queue` on PostgreSQL."""

from __future__ import annotations

import subprocess
import time

import pytest

from nas.service import queue as q
from nas.storage import Store
from tests.conftest import nas_cmd, subprocess_env
from tests.service.helpers import TABLE, wait_for


def test_one_claim_per_search_and_stale_takeover(storage_url: str) -> None:
    store = Store(storage_url)
    a = q.submit(store, {"space": "nb201"}, study_name="a", budget=3)
    b = q.submit(store, {"space": "nb201"}, study_name="b", budget=3)
    first = q.claim(store, "w1", grace_seconds=60)
    second = q.claim(store, "w2", grace_seconds=60)
    assert (first.id, second.id) == (a.id, b.id)  # oldest first, each taken once
    assert q.claim(store, "w3", grace_seconds=60) is None
    assert q.beat(store, a.id, "w1") == (True, False)
    # w1 goes silent: after the grace period w3 takes a over; w1 has lost it
    time.sleep(0.05)
    taken = q.claim(store, "w3", grace_seconds=0.01)
    assert taken is not None and taken.id in (a.id, b.id) and taken.attempts == 2
    assert q.beat(store, taken.id, "w3") == (True, False)
    loser = "w1" if taken.id == a.id else "w2"
    assert q.beat(store, taken.id, loser)[0] is False
    assert q.finish(store, taken.id, loser, q.State.DONE) is False  # cannot end what it lost
    assert q.finish(store, taken.id, "w3", q.State.DONE) is True
    assert q.get(store, taken.id).state == q.State.DONE


def test_cancel_queued_at_once_running_by_flag(storage_url: str) -> None:
    store = Store(storage_url)
    a = q.submit(store, {}, study_name="a", budget=1)
    b = q.submit(store, {}, study_name="b", budget=1)
    assert q.request_cancel(store, a.id).state == q.State.CANCELLED
    assert q.claim(store, "w", grace_seconds=60).id == b.id  # the cancelled one is not taken
    after = q.request_cancel(store, b.id)
    assert after.state == q.State.RUNNING and after.cancel_requested
    assert q.beat(store, b.id, "w") == (True, True)
    # a silent running search that was asked to cancel ends cancelled, nobody resumes it
    time.sleep(0.05)
    assert q.claim(store, "w2", grace_seconds=0.01) is None
    assert q.get(store, b.id).state == q.State.CANCELLED
    assert q.counts(store)["cancelled"] == 2


@pytest.mark.skipif(not TABLE.exists(), reason="shared/bench is not beside the checkout")
def test_queue_workers_share_a_postgres_queue(postgres_url: str) -> None:
    store = Store(postgres_url)
    subs = [
        q.submit(
            store,
            {"space": "nb201", "evaluator": f"table:{TABLE}", "strategy": "random", "seed": i},
            study_name=f"pg-{i}",
            budget=4 + i,
        )
        for i in range(3)
    ]
    env = subprocess_env()
    env.update(NAS_HEARTBEAT_SECONDS="1", NAS_GRACE_SECONDS="5")
    cmd = nas_cmd("worker", "--queue", "--storage", postgres_url, "--quiet")
    workers = [subprocess.Popen(cmd, env=env) for _ in range(2)]  # "two machines"
    try:
        wait_for(lambda: all(q.get(store, s.id).state in q.TERMINAL for s in subs), timeout=300)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
    rows = [q.get(store, s.id) for s in subs]
    assert [r.state for r in rows] == [q.State.DONE] * 3, [r.error for r in rows]
    import optuna

    for r in rows:
        study = optuna.load_study(study_name=r.study_name, storage=store.optuna)
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        assert len(done) == r.budget
    assert len({r.owner for r in rows}) >= 1
