"""``nas show`` in an 80-column terminal: short, the knee marked, only the settings that apply,
and next commands that work when pasted (issue 24 item 7)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import optuna

from nas.analysis.results import knee, pareto_front
from nas.storage import studies as st
from tests.commands.test_tables_80_columns import _in_pty
from tests.conftest import nas_cmd, subprocess_env


def _next(out: str) -> list[str]:
    """The commands under ``next:``, joined as a shell joins ``\\``-newline."""
    text = out.split("\nnext:\n", 1)[1].replace("\\\n", "")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and ln.split()[0] != "#"]


def _paste(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a printed ``nas ...`` command as a shell would split it (comments dropped)."""
    argv = shlex.split(cmd, comments=True)
    assert argv[0] == "nas", cmd
    return subprocess.run(
        nas_cmd(*argv[1:]), capture_output=True, text=True, cwd=cwd, env=subprocess_env()
    )


def test_show_of_a_searched_study_is_short_marks_the_knee_and_its_commands_work(
    searched_storage: str, tmp_path: Path
) -> None:
    # where a user works: beside studies.db (and its nas_checkpoints/), the default storage
    shutil.copytree(Path(searched_storage.removeprefix("sqlite:///")).parent, tmp_path / "w")
    url = "sqlite:///studies.db"
    out = _in_pty(["show", "nsga", "--storage", url], cwd=tmp_path / "w")
    lines = out.rstrip("\n").splitlines()
    assert len(lines) < 30 and max(len(ln) for ln in lines) <= 80, out
    assert "…" not in out
    # the settings paragraph: every line under the name folded under its indent
    head = lines[1 : next(i for i, ln in enumerate(lines) if ln.startswith("Pareto front"))]
    assert head and all(ln.startswith("  ") for ln in head), out
    # only what applies to an NSGA-II Pareto search
    flat = " ".join(out.split())
    assert "darts" not in out and "latency_weight" not in out and "latency-weight" not in out
    assert "strategy nsga2" in flat and "objective pareto" in flat and "--budget 6" in flat
    # the knee of the front, marked on its row
    study = optuna.load_study(study_name="nsga", storage=searched_storage)
    k = knee(pareto_front(st.complete_trials(study)))
    assert k is not None
    assert re.search(rf"│ +{k.number} \((largest, |smallest, )?knee\) │", out), out
    assert len(re.findall(r"knee\) │", out)) == 1
    # the next commands: dashboard, report, export of the knee; the last two run as printed
    cmds = _next(out)
    assert [c.split()[:2] for c in cmds] == [
        ["nas", "dashboard"],
        ["nas", "report"],
        ["nas", "export"],
    ]
    for cmd in cmds[1:]:
        done = _paste(cmd, tmp_path / "w")
        assert done.returncode == 0, (cmd, done.stderr)
    assert (tmp_path / "w" / "report.html").stat().st_size > 0
    assert done.stdout.startswith("exported knee pick of ")
    assert done.stdout.splitlines()[0].endswith(f" front trials: trial {k.number}")


def test_show_settings_prints_every_stored_option(searched_storage: str, capsys) -> None:
    from nas.cli import main

    assert main(["show", "nsga", "--settings", "--storage", searched_storage]) == 0
    out = capsys.readouterr().out
    assert "  options:\n" in out and "    darts_order: 1" in out and "space_digest:" in out


def test_settings_that_apply_follow_strategy_objective_and_evaluator() -> None:
    from nas.search.options import applies

    pareto = dict(strategy="nsga2", objective="pareto", network=True)
    assert not applies("darts_arch_lr", **pareto) and not applies("latency_weight", **pareto)
    assert applies("supernet_epochs", **pareto) and applies("budget", **pareto)
    assert applies("latency_weight", **{**pareto, "objective": "weighted"})
    assert applies("darts_arch_lr", **{**pareto, "strategy": "darts"})
    assert not applies("supernet_epochs", **{**pareto, "strategy": "darts"})
    table = {**pareto, "network": False}  # a table trains, reads and times nothing
    assert not applies("calib_batches", **table) and not applies("target", **table)
    assert applies("budget", **table)


def test_the_search_hint_opens_the_study_in_optuna_dashboard(tmp_path: Path) -> None:
    """The README's ``optuna-dashboard URL``, exactly as a search prints it, serves the study:
    the command is installed beside nas (a main dependency, not the test extra)."""
    import json
    import socket
    import sys
    import time
    import tomllib
    import urllib.request

    from nas.analysis.next_steps import next_commands
    from tests.conftest import ROOT

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("optuna-dashboard") for d in deps)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    from tests.dashboard.synthetic import make_study

    make_study(url, "seen", 3, space="mobile")
    settings = st.settings_of(optuna.load_study(study_name="seen", storage=url))
    hint = next(c for c in next_commands("seen", url, settings, after="search") if "optuna" in c)
    argv = shlex.split(hint)
    exe = Path(sys.executable).parent / argv[0]  # the virtual environment's bin/
    assert exe.exists(), f"{argv[0]} is not installed beside {sys.executable}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(exe), *argv[1:], "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        listing = None
        for _ in range(600):  # up to a minute on a busy machine
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies") as r:
                    listing = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        assert listing is not None
        assert [s["study_name"] for s in listing["study_summaries"]] == ["seen"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_folded_commands_run_as_printed_when_pasted_into_a_shell() -> None:
    from nas.commands.common import shell_lines

    cmd = (
        "nas export 'my study' --pick knee --out export/ --storage "
        "sqlite:////a/rather/long/folder/name/that/goes/on/and/on/studies.db"
        "  # untrained weights: add --finetune-epochs N to train them"
    )
    for width in (30, 40, 80):
        lines = shell_lines(cmd, width)
        assert lines[0] == "  # untrained weights: add --finetune-epochs N to train them"
        assert all(len(ln) <= width for ln in lines[1:]), lines
        pasted = "\n".join(lines[1:]).strip()
        assert pasted.startswith("nas export ")
        argv = subprocess.run(
            ["bash", "-c", "printf '%s\\n' " + pasted.removeprefix("nas ")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert argv == shlex.split(cmd, comments=True)[1:], (width, lines)


def test_a_zero_cost_study_shows_no_supernet_training_options() -> None:
    """Nothing is trained in a zero-cost search: --supernet-epochs (resolved and stored for
    every sampler search) is not one of its options on screen; a supernet study shows it."""
    from nas.commands.show import settings_summary
    from nas.storage.studies import StudySettings

    options = {"supernet_epochs": 4, "supernet_seed": 3, "budget": 50}
    for evaluator, shown in (("zero-cost:naswot", False), ("supernet", True)):
        s = StudySettings(
            "mobile", "d", "fashion-mnist", "f", "nsga2", "pareto", "cpu", evaluator, -0.07, 0,
            options=options,
        )  # fmt: skip
        (line,) = settings_summary(s)
        assert ("--supernet-epochs 4" in line) is shown, line
        assert ("--supernet-seed 3" in line) is shown, line
        assert "--budget 50" in line
