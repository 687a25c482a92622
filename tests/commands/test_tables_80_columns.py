"""The CLI's tables where people read them: an 80-column terminal (a real pty) and a log file.

Trial, accuracy and latency always print in full; long architectures move under the table;
the settings print in words, not as a dict; a noisy latency is marked.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import sqlite3
import struct
import subprocess
import termios
from pathlib import Path

import optuna
import pytest

from nas.storage import keys
from tests.conftest import nas_cmd, subprocess_env
from tests.dashboard.synthetic import make_study

STUDY = "a-study-with-a-rather-long-name"


def _in_pty(
    args: list[str], columns: int = 80, cmd: list[str] | None = None, cwd: Path | None = None
) -> str:
    """What ``nas ARGS`` (or ``cmd``) prints in a terminal of ``columns`` columns (in ``cwd``)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in subprocess_env().items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(cmd or nas_cmd(*args), stdout=child, stderr=child, env=env, cwd=cwd)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    text = b"".join(chunks).decode()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")


def _to_file(
    args: list[str], path: Path, cmd: list[str] | None = None, cwd: Path | None = None
) -> str:
    env = {k: v for k, v in subprocess_env().items() if k != "COLUMNS"}
    with path.open("w") as f:
        done = subprocess.run(
            cmd or nas_cmd(*args), stdout=f, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
    assert done.returncode == 0, done.stderr
    return path.read_text()


@pytest.fixture
def study(storage_url: str) -> str:
    make_study(storage_url, STUDY, 12, space="mobile")
    db = sqlite3.connect(storage_url.removeprefix("sqlite:///"))
    rows = db.execute(
        "select trial_id, value_json from trial_user_attributes where key = ?", (keys.LATENCY,)
    ).fetchall()
    for tid, value in rows:  # every trial noisy: whichever is on the front carries the mark
        d = {**json.loads(value), "noisy": True}
        db.execute(
            "update trial_user_attributes set value_json = ? where trial_id = ? and key = ?",
            (json.dumps(d), tid, keys.LATENCY),
        )
    db.commit()
    db.close()
    return storage_url


def _front(url: str) -> list[optuna.trial.FrozenTrial]:
    from nas.analysis.results import pareto_front

    s = optuna.load_study(study_name=STUDY, storage=url)
    return pareto_front([t for t in s.trials if t.state.is_finished()], None)


def _check_show(out: str, url: str, width: int, *, every: bool = False) -> None:
    """Every front row (the front is short) with its numbers in full; the architecture of
    the knee (of every trial with ``every``: ``--all``), whole, on its row or under the table."""
    from nas.analysis.results import knee

    front = _front(url)
    k = knee(front)
    assert k is not None
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    for t in front:
        acc = f"{100 * t.user_attrs[keys.ACCURACY]:.2f}"
        lat = f"{t.user_attrs[keys.LATENCY_MS]:.2f}~"  # noisy, and marked
        mark = r"( \(knee\))?"  # the knee of the front is marked
        assert re.search(rf"│ +{t.number}{mark} │ +{acc} │ +{re.escape(lat)} │", out), (
            t.number,
            out,
        )
        arch = " ".join(t.user_attrs[keys.ARCH_STR].split())
        inline = re.search(rf"│ {re.escape(arch)} +│", out)
        below = f"trial {t.number}: {arch}" in " ".join(out.split())
        assert inline or below or not (every or t is k), (t.number, out)
        assert inline or not below or every or t is k, (t.number, out)  # only the knee's
    assert "~ noisy:" in out
    assert "space mobile," in out and "{" not in out  # settings in words, no dict


def test_show_at_80_columns_in_a_terminal(study: str) -> None:
    _check_show(_in_pty(["show", STUDY, "--storage", study]), study, 80)
    _check_show(_in_pty(["show", STUDY, "--all", "--storage", study]), study, 80, every=True)


def test_show_redirected_to_a_file(study: str, tmp_path: Path) -> None:
    # a relative URL, so that how lines fold does not depend on the length of tmp_path
    folder = Path(study.removeprefix("sqlite:///")).parent
    args = ["show", STUDY, "--storage", "sqlite:///studies.db"]
    out = _to_file(args, tmp_path / "show.log", cwd=folder)
    _check_show(out, study, 120)  # a log file is laid out at 120 columns, not 80


def test_studies_and_history_at_80_columns(study: str, tmp_path: Path) -> None:
    make_study(study, "other", 3, space="mobile")
    for out in (
        _in_pty(["studies", "--storage", study]),
        _to_file(["studies", "--storage", study], tmp_path / "studies.log"),
    ):
        assert "…" not in out
        assert re.search(r"│ +12/12 │ +\d+\.\d\d │ +\d+ │", out), out
        names = "".join(ln.split("│")[1].strip() for ln in out.splitlines() if ln[:1] == "│")
        assert STUDY in names  # a long name folds, it is not cut
    out = _in_pty(["show", STUDY, "--history", "--storage", study])
    assert "…" not in out and re.search(r"│ +12 │ +\d+ │ +0 │ +\d+\.\d\d │", out), out


def test_front_table_keeps_the_numbers_of_a_darts_study_at_200_columns() -> None:
    from rich.console import Console

    from nas.commands.common import front_table

    t = optuna.trial.create_trial(
        params={},
        distributions={},
        values=[0.9, 3.0],
        user_attrs={
            keys.ACCURACY: 0.9,
            keys.LATENCY_MS: 3.0,
            keys.LATENCY: {"median_ms": 3.0, "p90_ms": 3.5, "noisy": False},
            keys.ARCH_STR: " ".join(f"normal{i}:sep_conv_3x3~{i % 2}" for i in range(40)),
        },
    )
    for width in (80, 200):
        c = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        c.print(front_table([t], "front", width=width))
        out = c.export_text()
        assert re.search(r"│ +-1 │ +90\.00 │ +3\.00 │ +3\.50 │", out) and "…" not in out
        assert "~ noisy" not in out


def test_a_measurement_far_from_the_recorded_one_is_flagged() -> None:
    from nas.hardware.timing import implausible

    recorded = {"median_ms": 12.7, "p10_ms": 12.1, "p90_ms": 13.9}
    assert implausible({"median_ms": 13.5}, recorded) is None  # within the spread
    assert implausible({"median_ms": 18.0}, recorded) is None  # slower, but not implausibly
    why = implausible({"median_ms": 117.0}, recorded)  # the case from issue 14
    assert why is not None and "9.2x the 12.70 ms recorded at export" in why
    assert implausible({"median_ms": 4.0}, recorded) is not None


def _render(renderable: object, width: int) -> str:
    """What the console prints at ``width``: a terminal, or 120 for a log file (common._width)."""
    from rich.console import Console

    c = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    c.print(renderable)
    return c.export_text()


def _lat(median: float, noisy: bool = False) -> dict:
    return {"median_ms": median, "p10_ms": 0.9 * median, "p90_ms": 1.3 * median, "noisy": noisy}


def test_compress_table_keeps_every_number_at_80_columns_and_in_a_file() -> None:
    from nas.commands.compress import compress_table
    from nas.export.compress import Row

    def row(model: str, runtime: str, params: int, acc: float, lat: dict) -> Row:
        return Row(model, runtime, "f", params, 511.4, 9_069_875, acc, lat, "fp")

    rows = [
        row("exported", "torch 2.13.0+cpu", 2_235_738, 0.9556, _lat(117.0, noisy=True)),
        row("fine-tuned", "torch 2.13.0+cpu", 2_235_738, 0.9612, _lat(118.3)),
        row("pruned", "torch 2.13.0+cpu", 1_120_370, 0.9528, _lat(157.89)),
        row("exported", "onnxruntime 1.32.0", 2_235_738, 0.9556, _lat(23.62)),
        row("pruned", "onnxruntime 1.32.0", 1_120_370, 0.9528, _lat(16.91)),
        row("pruned + int8", "onnxruntime 1.32.0", 1_120_370, 0.9306, _lat(1117.38)),
    ]
    report = {"latency_input": [1, 3, 224, 224], "threads": 2}
    report["options"] = {"prune": 0.5, "quantize": "int8"}
    recorded = {"median_ms": 12.7, "p10_ms": 12.1, "p90_ms": 13.9}  # issue 14's case
    for width in (80, 120):
        out = _render(compress_table(rows, report, recorded, width=width), width)
        assert "…" not in out and max(len(line) for line in out.splitlines()) <= width, out
        for r in rows:
            lat = r.latency
            mark = "~!" if r.latency["noisy"] else ""  # noisy, and far from the export's
            for cell in (
                r.model,
                r.runtime.split()[0],
                f"{r.params:,}",
                f"{100 * r.test_accuracy:.2f}",
                f"{lat['median_ms']:.2f}{mark}",
                f"{lat['p10_ms']:.2f}-{lat['p90_ms']:.2f}",
            ):
                assert re.search(rf"│ *{re.escape(cell)} *│", out), (cell, out)
        assert "~ noisy:" in out and "9.2x the 12.70 ms recorded at export" in " ".join(
            out.split()
        )
    assert len(_render(compress_table(rows, report, None, width=120), 120).splitlines()) < len(
        out.splitlines()
    )  # one line a row where it fits


def test_export_summary_wraps_under_its_labels_and_marks_a_noisy_latency() -> None:
    from types import SimpleNamespace

    from nas.commands.export import export_summary

    arch = " | ".join(f"k{3 + 2 * (i % 3)}e{3 + 3 * (i % 2)} k5e3" for i in range(14))
    r = SimpleNamespace(
        reason="knee of 7 front trials: trial 65",
        arch_str=arch,
        metrics={
            "accuracy": {"val": 0.8831, "test": 0.8795},
            "latency_ms": 12.7,
            "latency": _lat(12.7, noisy=True),
            "params_m": 0.4321,
            "flops_m": 31.2,
        },
        notes=["compression.json: a pruning config_list in NNI's format"],
        out=Path("/tmp") / ("a-project-folder-with-a-long-name/" * 3) / "export",
    )
    for width in (80, 120):
        out = _render(export_summary(r), width)
        assert "…" not in out and max(len(line) for line in out.splitlines()) <= width
        flat = "".join(line.strip() for line in out.splitlines())
        assert arch.replace(" ", "") in flat.replace(" ", "")  # the whole architecture
        assert str(r.out) in flat
        assert "latency 12.70~ ms" in out and "~ noisy:" in out
        # a folded line continues under its value, not under the label
        lines = out.splitlines()
        first = next(i for i, ln in enumerate(lines) if "architecture:" in ln)
        indent = lines[first].index(arch[:6])
        assert lines[first + 1][:indent].strip() == ""


def test_status_keeps_id_state_and_budget_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from rich.console import Console

    from nas.commands import remote

    searches = [
        {
            "id": 12345,
            "state": "running",
            "budget": 200,
            "study": "a-study-with-a-rather-long-name-" * 3,
            "worker": "host.example.org:123456",
            "error": "",
        },
        {
            "id": 7,
            "state": "failed",
            "budget": 20,
            "study": "x",
            "worker": "w",
            "error": "data set 'cifar' not found; give fashion-mnist, digits, " * 8,
        },
    ]

    class FakeClient:
        def searches(self) -> list[dict]:
            return searches

    monkeypatch.setattr(remote, "_client", lambda args: FakeClient())
    for width in (80, 120):
        c = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        monkeypatch.setattr(remote, "console", c)
        args = argparse.Namespace(server="http://127.0.0.1:8080", id=None)
        assert remote.run_status(args) == 0
        out = c.export_text()
        assert max(len(line) for line in out.splitlines()) <= width
        assert re.search(r"│ +12345 │ running +│ +200 │", out), out
        assert re.search(r"│ +7 │ failed +│ +20 │", out), out
        names = "".join(ln.split("│")[4].strip() for ln in out.splitlines() if ln[:1] == "│")
        assert searches[0]["study"] in names  # folded, not cut
        errors = " ".join(ln.split("│")[6].strip() for ln in out.splitlines() if ln[:1] == "│")
        assert "… (all of it: nas status 7)" in " ".join(errors.split())


# ---- nas hardware: the fit and its validation ------------------------------------------------
def _fake_nas(*args: str) -> list[str]:
    """``nas ARGS`` with the deterministic fake targets (tests/hardware/fake_targets.py)."""
    import sys

    return [sys.executable, "-m", "tests.hardware.fake_cli", *args]


def _stored_validation(url: str) -> tuple[dict, dict]:
    from nas.spaces import load_space
    from nas.storage import Store
    from nas.storage.latency_lut import LatencyTableStore
    from tests.conftest import TINY
    from tests.hardware.fake_targets import SizeTarget

    fit = LatencyTableStore(Store(url)).fit(
        load_space(str(TINY)).digest, SizeTarget().fingerprint_id(), 10
    )
    assert fit is not None
    return fit, fit["meta"]["validation"]


def _check_fit(out: str, fit: dict, v: dict, width: int) -> None:
    """The correction and every validation figure whole, each next to its threshold."""
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= width, out
    assert f"{fit['a']:.4f} * table sum {fit['b']:+.3f} ms" in " ".join(out.split()), out
    assert f"fitted on {fit['n']} networks" in " ".join(out.split()), out
    figures = [
        ("held-out networks", str(v["n"]), ">= 4"),
        ("Kendall tau", f"{v['kendall_tau']:.3f}", ">= 0.6"),
        ("median error %", f"{100 * v['median_rel_error']:.1f}", "<= 20"),
        ("worst error %", f"{100 * v['max_rel_error']:.1f}", "<= 100"),
    ]
    for name, value, needs in figures:
        assert re.search(rf"│ {re.escape(name)} +│ +{re.escape(value)} │ +{needs} │ ok +│", out), (
            name,
            out,
        )
    assert "passed: searches use it" in " ".join(out.split())


def test_hardware_profile_and_validate_at_80_columns_and_in_a_file(tmp_path: Path) -> None:
    from tests.conftest import TINY

    url = f"sqlite:///{tmp_path / 'db.db'}"
    common = ["--space", str(TINY), "--target", "fake", "--storage", url]
    prof = ["hardware", "profile", *common, "--fit-samples", "4"]
    out = _in_pty([], cmd=_fake_nas(*prof))
    fit, v = _stored_validation(url)
    _check_fit(out, fit, v, 80)
    assert re.search(r"lookup table of tiny on fake \(\w+\): 18 entries", out), out
    logged = _to_file([], tmp_path / "profile.log", cmd=_fake_nas(*prof))
    fit, v = _stored_validation(url)  # profiled again: validated again, at another load
    _check_fit(logged, fit, v, 120)
    val = ["hardware", "validate", *common, "--samples", "5"]
    for out, width in (
        (_in_pty([], cmd=_fake_nas(*val)), 80),
        (_to_file([], tmp_path / "validate.log", cmd=_fake_nas(*val)), 120),
    ):
        _check_fit(out, fit, v, width)
        # the stored fit's held-out figures next to this check's, every number whole
        tau = f"{v['kendall_tau']:.3f}"
        assert re.search(rf"│ Kendall tau +│ +{tau} │ +-?\d\.\d{{3}} │ +>= 0\.6 │", out), out
        assert re.search(r"│ held-out networks +│ +10 │ +5 │ +>= 4 │", out), out
        assert re.search(r"│ MAPE % +│ +- │ +\d+\.\d │ +- │", out), out
        assert re.search(r"│ within \+-10 % +│ +- │ +\d+ % │ +- │", out), out
        if v.get("load") is not None:
            assert re.search(rf"│ machine load +│ +{v['load']:.1f} │ +\d+\.\d │", out), out


def test_a_refused_or_unvalidated_fit_says_so_at_80_columns() -> None:
    from nas.commands import hardware
    from nas.hardware.lut import Correction
    from nas.storage.latency_lut import Validation

    busy = Validation(10, 0.0, 0.65, 11.4, "2026-12-03 13:00 UTC", 9.3)  # issue 14's fit
    for v, said in (
        (busy, "refused by searches: Kendall tau 0.00 (needs >= 0.6); median error 65 %"),
        (None, "not validated (fitted before fits were validated): searches refuse it"),
    ):
        c = hardware.console
        c.begin_capture()
        width, soft = c.width, c.soft_wrap
        try:
            c.width, c.soft_wrap = 80, False  # as in an 80-column terminal
            hardware.print_fit(Correction(0.117, 143.84, 10), v)
        finally:
            c.width, c.soft_wrap = width, soft
            out = c.end_capture()
        assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80, out
        assert "0.1170 * table sum +143.840 ms" in " ".join(out.split())
        assert said in " ".join(out.split()), out
        if v is not None:
            assert re.search(r"│ Kendall tau +│ +0\.000 │ +>= 0\.6 │ FAILS +│", out), out
            assert re.search(r"│ worst error % +│ +1140\.0 │ +<= 100 │ FAILS +│", out), out
            assert re.search(r"│ held-out networks +│ +10 │ +>= 4 │ ok +│", out), out
