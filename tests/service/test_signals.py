"""``nas serve`` stopped by SIGTERM (``kill PID``, a service manager) exactly as by Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path

import optuna
from optuna.trial import TrialState

from nas.service import queue as q
from nas.storage import keys
from nas.storage.db import Store
from tests.service.helpers import Server, wait_for


def test_sigterm_stops_the_server_cleanly_and_hands_its_search_back(tmp_path: Path) -> None:
    srv = Server(tmp_path, slots=1).start()
    try:
        c = srv.client()
        s = c.submit(space="nb201", evaluator="synthetic:1.0", strategy="random", budget=500)
        wait_for(lambda: c.progress(s["id"])["complete"] >= 1)
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        # Python's default would end it at once with -15, its worker killed with it
        assert srv.proc.wait(timeout=60) == 0
    finally:
        srv.stop()
    search = q.get(Store(srv.storage), s["id"])
    assert search is not None
    # handed back to the queue by its worker, as on Ctrl-C (not left "running" until the
    # heartbeat grace runs out), and the trial it was running failed with its reason
    assert search.state == q.State.QUEUED, search
    study = optuna.load_study(study_name=search.study_name, storage=srv.storage)
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = [t.user_attrs.get(keys.FAIL_REASON) for t in trials if t.state == TrialState.FAIL]
    assert failed == ["interrupted"]
