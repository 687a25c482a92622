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
from datetime import UTC, datetime
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
    url: str,
    study: str,
    pred: Callable[[list[FrozenTrial]], bool],
    timeout: float = 600,
    proc: subprocess.Popen | None = None,
) -> list[FrozenTrial]:
    """The study's trials once ``pred`` holds. Fails at once if ``proc`` (the search) exits
    first; ``timeout`` only guards against a hang (a loaded 2-core machine can take minutes to
    start the workers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trials = _trials(url, study)
        if pred(trials):
            return trials
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(
        f"{'timed out' if proc is None or proc.poll() is None else 'the search exited'}; "
        f"states: {Counter(t.state.name for t in _trials(url, study))}"
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
    # the budget is a count of distinct architectures: no completed trial repeats another
    hashes = Counter(t.user_attrs[keys.ARCH_HASH] for t in complete)
    assert len(hashes) == budget, hashes.most_common(3)
    assert not any(keys.DUPLICATE_OF in t.user_attrs for t in complete)
    # a repeat (if any got through a race) was pruned, pointing at the holder of its network
    by_number = {t.number: t for t in trials}
    for t in trials:
        if keys.DUPLICATE_OF in t.user_attrs:
            assert t.state == TrialState.PRUNED
            src = by_number[t.user_attrs[keys.DUPLICATE_OF]]
            assert src.user_attrs[keys.ARCH_HASH] == t.user_attrs[keys.ARCH_HASH]
    # several processes really took part
    assert len({_pid(t) for t in complete}) >= 2


# 4 layer choices (kernel 3/5 x expand 2/3), depth 1 or 2: 4 + 16 = 20 architectures
RACE_SPACE = """\
name: race
version: 1
kind: chain
block: mbconv
train_resolution: 8
latency_input: {batch: 1, channels: 3, height: 8, width: 8}
stem: {channels: 4, kernel: 3, stride: 1}
stages:
  - {channels: 4, stride: 1}
depth: [1, 2]
layer_choices: {kernel: [3, 5], expand: [2, 3]}
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_four_workers_racing_for_a_small_space_evaluate_every_architecture_once(
    backend: str, tmp_path: Path, request
) -> None:
    """The whole space as the budget: the workers race for the same few architectures at the
    end, and each of the 20 is still completed exactly once."""
    from nas.spaces import load_space

    space_file = tmp_path / "race.yaml"
    space_file.write_text(RACE_SPACE)
    assert load_space(str(space_file)).size() == 20
    url = (
        f"sqlite:///{tmp_path / 'studies.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    cmd = _search(url, "race", 20, "--evaluator", "synthetic:0.05", "--workers", "4")
    cmd[cmd.index(str(TINY))] = str(space_file)
    r = subprocess.run(
        [*cmd, "--strategy", "random"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    _check_exact_budget_and_no_double_evaluation(url, "race", 20)


def test_a_budget_over_the_size_of_the_space_is_refused(tmp_path: Path) -> None:
    space_file = tmp_path / "race.yaml"
    space_file.write_text(RACE_SPACE)
    cmd = _search(f"sqlite:///{tmp_path / 'studies.db'}", "big", 21, "--evaluator", "synthetic")
    cmd[cmd.index(str(TINY))] = str(space_file)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert r.returncode == 2
    assert "more than the 20 distinct architectures" in r.stderr
    assert not (tmp_path / "studies.db").exists()


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


def _stop_a_worker_in_a_trial(url: str, study: str, proc: subprocess.Popen) -> FrozenTrial:
    """SIGSTOP a worker while it evaluates a trial, and return that trial.

    Stopped, the worker cannot finish the trial or start another between the moment its trial
    is read and the kill (on a loaded machine the test process itself may sleep longer than a
    trial takes). One stopped between two trials is let go and another moment is taken.
    """
    while True:
        trials = _wait_for(url, study, lambda ts: bool(_evaluating(ts)), proc=proc)
        pid = _pid(_evaluating(trials)[0])
        os.kill(pid, signal.SIGSTOP)
        mine = [
            t
            for t in _evaluating(_trials(url, study))
            if t.user_attrs[keys.WORKER].endswith(f":{pid}#{t.number}")
        ]
        if mine:
            return mine[0]
        os.kill(pid, signal.SIGCONT)


def _last_heartbeat(url: str, trial_id: int) -> datetime:
    import sqlite3

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        (beat,) = db.execute(
            "select heartbeat from trial_heartbeats where trial_id = ?", (trial_id,)
        ).fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(beat).replace(tzinfo=UTC)  # the database's now(): UTC


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
        victim = _stop_a_worker_in_a_trial(url, "k", parent)
        os.kill(_pid(victim), signal.SIGKILL)
        out, err = parent.communicate(timeout=600)
    finally:
        parent.kill()
    assert parent.returncode == 1 and "1 of 2 workers failed" in err  # it reports the loss
    trials = _trials(url, "k")
    assert trials[victim.number].state == TrialState.FAIL
    # the study waited for the grace period after the dead worker's last heartbeat (measured in
    # the database's clock, which Optuna's stale check uses; datetime_complete is local time)
    failed_at = trials[victim.number].datetime_complete
    assert failed_at is not None
    waited = failed_at.astimezone(UTC) - _last_heartbeat(url, victim._trial_id)
    assert waited.total_seconds() >= 6, waited
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


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_prints_the_summary_and_exits_130(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Ctrl-C, and SIGTERM (kill PID, a service manager) exactly like it."""
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
        p.send_signal(stop)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "Pareto front of i" in out
    assert "interrupted with" in err and "/30 trials complete" in err
    trials = _trials(url, "i")
    assert _n(trials, TrialState.RUNNING) == 0
    # Ctrl-C mid-evaluation fails that trial; one that lands while Optuna records the previous
    # trial is held until it is recorded (nas.search.interrupts), then nothing fails
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) <= 1
    assert all(t.user_attrs[keys.FAIL_REASON] == "interrupted" for t in failed)
