"""Several worker processes on one study, and crashes: real processes, SQLite and PostgreSQL.

The synthetic evaluator (a deterministic score after a pause) keeps these fast; the supernet
test uses the real evaluator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from nas.storage import Store, keys
from nas.storage.coordination import slot_holders
from tests.conftest import TINY, nas_cmd, subprocess_env

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = subprocess_env()
    # short, but with room for a busy 2-core CI machine to be late with a heartbeat
    env.update({"NAS_HEARTBEAT_SECONDS": "1", "NAS_GRACE_SECONDS": "6", **extra})
    return env


def _search(url: str, study: str, budget: int, *extra: str) -> list[str]:
    return nas_cmd(
        "search",
        "--space",
        str(TINY),
        "--budget",
        str(budget),
        "--study",
        study,
        "--storage",
        url,
        *extra,
    )


def _trials(url: str, study: str) -> list[FrozenTrial]:
    try:
        return optuna.load_study(study_name=study, storage=url).trials
    except KeyError:  # not created yet
        return []


def _wait_for(
    url: str, study: str, pred: Callable[[list[FrozenTrial]], bool], timeout: float = 120
) -> list[FrozenTrial]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trials = _trials(url, study)
        if pred(trials):
            return trials
        time.sleep(0.2)
    raise AssertionError(
        f"timed out; states: {Counter(t.state.name for t in _trials(url, study))}"
    )


def _evaluating(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """RUNNING trials past suggest (their architecture is known)."""
    return [t for t in trials if t.state == TrialState.RUNNING and keys.ARCH_HASH in t.user_attrs]


def _n(trials: list[FrozenTrial], state: TrialState) -> int:
    return sum(t.state == state for t in trials)


def _pid(trial: FrozenTrial) -> int:
    return int(trial.user_attrs[keys.WORKER].rpartition("#")[0].rpartition(":")[2])


def _check_exact_budget_and_no_double_evaluation(url: str, study: str, budget: int) -> None:
    trials = _trials(url, study)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == budget
    assert _n(trials, TrialState.RUNNING) == 0 and _n(trials, TrialState.WAITING) == 0
    # every completed trial holds one budget slot, and nothing else does
    holders = slot_holders(Store(url), study)
    assert sorted(holders) == list(range(budget))
    assert set(holders.values()) == {t._trial_id for t in complete}
    # each architecture was evaluated once; the other proposals of it reused that result
    evaluated = Counter(
        t.user_attrs[keys.ARCH_HASH] for t in complete if keys.DUPLICATE_OF not in t.user_attrs
    )
    assert max(evaluated.values()) == 1
    by_number = {t.number: t for t in trials}
    for t in complete:
        if keys.DUPLICATE_OF in t.user_attrs:
            src = by_number[t.user_attrs[keys.DUPLICATE_OF]]
            assert src.user_attrs[keys.ARCH_HASH] == t.user_attrs[keys.ARCH_HASH]
            assert src.values == t.values
    # several processes really took part
    assert len({_pid(t) for t in complete}) >= 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_four_workers_complete_exactly_the_budget(backend: str, tmp_path: Path, request) -> None:
    url = (
        f"sqlite:///{tmp_path / 'studies.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    r = subprocess.run(
        _search(url, "w", 40, "--evaluator", "synthetic:0.2", "--workers", "4"),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "Pareto front of w" in r.stdout
    assert "database is locked" not in r.stderr
    _check_exact_budget_and_no_double_evaluation(url, "w", 40)
    assert _n(_trials(url, "w"), TrialState.FAIL) == 0


def test_supernet_is_trained_once_and_loaded_by_the_other_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    cmd = _search(url, "sn", 4, "--workers", "2", "--supernet-epochs", "1", "--calib-batches", "1")
    r = subprocess.run(
        [*cmd[:3], "-v", *cmd[3:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("trained supernet ") == 1, r.stderr
    assert r.stderr.count("loaded supernet checkpoint") == 1, r.stderr
    assert len(list((tmp_path / "nas_checkpoints").glob("*.safetensors"))) == 1
    assert _n(_trials(url, "sn"), TrialState.COMPLETE) == 4


def test_sigkilled_worker_trial_is_failed_after_grace_and_retried(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    # NAS_PID_CHECK=0: only the heartbeat may tell that the worker is gone (as across machines)
    env = _env(NAS_PID_CHECK="0")
    parent = subprocess.Popen(
        _search(url, "k", 6, "--evaluator", "synthetic:1.5", "--workers", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        trials = _wait_for(url, "k", lambda ts: len(_evaluating(ts)) >= 2)
        victim = _evaluating(trials)[0]
        killed_at = time.monotonic()
        os.kill(_pid(victim), signal.SIGKILL)
        out, err = parent.communicate(timeout=300)
    finally:
        parent.kill()
    assert time.monotonic() - killed_at >= 6  # the study waited for the grace period
    assert parent.returncode == 1 and "1 of 2 workers failed" in err  # it reports the loss
    trials = _trials(url, "k")
    assert trials[victim.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == victim.params
    assert _n(trials, TrialState.COMPLETE) == 6


def _snapshot(trials: list[FrozenTrial]) -> dict[int, tuple]:
    return {
        t.number: (t.params, t.values, t.user_attrs, t.datetime_complete)
        for t in trials
        if t.state == TrialState.COMPLETE
    }


def test_kill_9_then_the_same_command_resumes_and_keeps_every_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    cmd = _search(url, "r", 8, "--evaluator", "synthetic:0.7", "--strategy", "random")
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=_env()
    )
    try:
        _wait_for(
            url, "r", lambda ts: _n(ts, TrialState.COMPLETE) >= 3 and len(_evaluating(ts)) == 1
        )
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        p.kill()
    trials = _trials(url, "r")
    before = _snapshot(trials)
    orphan = _evaluating(trials)[0]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    after = _trials(url, "r")
    assert _n(after, TrialState.COMPLETE) == 8
    now = _snapshot(after)
    assert {n: now[n] for n in before} == before  # nothing lost, nothing changed
    # the orphan was failed (its process is gone) and its architecture queued again
    assert after[orphan.number].state == TrialState.FAIL
    assert any(t.system_attrs.get("failed_trial") == orphan.number for t in after)


def test_ctrl_c_stops_cleanly_prints_the_summary_and_exits_130(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    p = subprocess.Popen(
        _search(url, "i", 30, "--evaluator", "synthetic:1.0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(),
    )
    try:
        _wait_for(
            url, "i", lambda ts: _n(ts, TrialState.COMPLETE) >= 2 and len(_evaluating(ts)) == 1
        )
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "Pareto front of i" in out
    assert "interrupted with" in err and "/30 trials complete" in err
    trials = _trials(url, "i")
    assert _n(trials, TrialState.RUNNING) == 0
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs[keys.FAIL_REASON] == "interrupted"
