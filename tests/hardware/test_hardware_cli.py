"""``nas hardware``, ``nas device`` and the new ``nas search`` options on the command line."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import torch

from nas.cli import main
from tests.conftest import TINY
from tests.hardware import fake_targets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BAD = [
    (["search", "--space", str(TINY), "--latency", "guessed"], "invalid choice: 'guessed'"),
    (["search", "--space", str(TINY), "--target", "cpu:2"], "takes no argument"),
    (["search", "--space", str(TINY), "--target", "remote:host"], "remote:HOST:PORT"),
    (
        ["search", "--space", str(TINY), "--target", "onnxruntime", "--threads", "0"],
        "--threads must be at least 1",
    ),
    (["hardware", "profile", "--space", "nb201"], "lookup tables need a chain space"),
    (["hardware", "profile", "--space", str(TINY), "--target", "tpu"], "unknown target 'tpu'"),
    (["hardware", "profile", "--space", str(TINY), "--fit-samples", "0"], "--fit-samples"),
    (["hardware", "profile", "--space", str(TINY), "--holdout", "3"], "--holdout must be >= 4"),
    (["hardware", "validate", "--space", str(TINY), "--samples", "1"], "--samples must be >= 2"),
    (["hardware", "validate", "--space", "nosuch"], "unknown space 'nosuch'"),
    (["hardware", "validate", "--space", str(TINY), "--passes", "0"], "--passes must be >= 1"),
    # nothing stored to validate: said, not profiled for minutes (no database is made either)
    (["hardware", "validate", "--space", str(TINY), "--samples", "3"], "does not exist"),
]
if not torch.cuda.is_available():
    BAD.append((["search", "--space", str(TINY), "--target", "cuda"], "no CUDA device"))


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a[:4]) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys
) -> None:
    code = main([*argv, "--storage", f"sqlite:///{tmp_path / 'db.db'}"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert list(tmp_path.iterdir()) == []


def test_search_with_an_unreachable_device_is_one_line(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAS_DEVICE_TOKEN", "t")
    port = _free_port()
    argv = ["search", "--space", str(TINY), "--target", f"remote:127.0.0.1:{port}"]
    code = main([*argv, "--storage", f"sqlite:///{tmp_path / 'db.db'}"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"nas: error: device http://127.0.0.1:{port} unreachable after 4")
    assert "nas device serve" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_search_with_remote_needs_the_token(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAS_DEVICE_TOKEN", raising=False)
    code = main(["search", "--space", str(TINY), "--target", "remote:127.0.0.1:9"])
    assert code == 2 and "set NAS_DEVICE_TOKEN" in capsys.readouterr().err


def test_profile_then_validate(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_targets.register(monkeypatch)  # a fake clock: the figures are the same every run
    monkeypatch.chdir(tmp_path)  # a short URL: how lines fold must not depend on tmp_path
    url = "sqlite:///db.db"
    common = ["--space", str(TINY), "--target", "fake", "--storage", url]
    assert main(["hardware", "profile", *common, "--fit-samples", "4"]) == 0
    out = capsys.readouterr().out
    assert "lookup table of tiny on fake" in out and "18 entries" in out
    # words, not lines: where a sentence folds depends on the console's width
    assert "fitted on 4 networks measured end to end" in " ".join(out.split())
    assert re.search(r"│ held-out networks +│ +10 │ +>= 4 │ ok +│", out), out
    assert re.search(r"│ Kendall tau +│ +\d\.\d{3} │ +>= 0\.6 │ ok +│", out), out
    assert "; passed: searches use it" in out
    assert main(["hardware", "validate", *common, "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "fitted on 4 networks" in out and "passed: searches use it" in out
    assert "checked on 5 other architectures" in out
    # the stored fit's held-out figures next to this check's, and the thresholds
    assert re.search(r"│ held-out networks +│ +10 │ +5 │ +>= 4 │", out), out
    assert re.search(r"│ MAPE % +│ +- │ +\d+\.\d │ +- │", out), out
    assert re.search(r"│ within \+-10 % +│ +- │ +\d+ % │ +- │", out), out
    assert "would be refused" not in out
    assert "passes agree" not in out
    assert main(["hardware", "validate", *common, "--samples", "4", "--passes", "2"]) == 0
    cap = capsys.readouterr()
    assert "checked on 4 other architectures" in cap.out
    assert "measurements: 2 passes agree to Kendall tau" in cap.out
    assert cap.err.count("[pass 2, ") == 4


def test_validate_without_a_stored_predictor_says_so_and_profiles_nothing(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_targets.register(monkeypatch)
    url = f"sqlite:///{tmp_path / 'db.db'}"
    common = ["--space", str(TINY), "--target", "fake", "--storage", url]
    # a database that holds studies but no table for this space and target
    assert main(["search", "--space", str(TINY), "--budget", "2", "--evaluator",
                 "synthetic", "--storage", url]) == 0  # fmt: skip
    capsys.readouterr()
    before = (tmp_path / "db.db").read_bytes()
    assert main(["hardware", "validate", *common, "--samples", "3"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no latency predictor of space 'tiny' on fake" in lines[0]
    assert "nas hardware profile --space tiny --target fake" in lines[0]
    assert (tmp_path / "db.db").read_bytes() == before


def test_profile_on_a_busy_machine_is_refused_and_reprofile_recovers(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas.commands import hardware
    from nas.hardware.lut import DEFAULT_HOLDOUT, MIN_HOLDOUT, profile_table
    from nas.spaces import load_space
    from nas.storage import Store
    from nas.storage.latency_lut import LatencyTableStore
    from tests.hardware.fake_targets import SizeTarget

    assert (hardware.DEFAULT_HOLDOUT, hardware.MIN_HOLDOUT) == (DEFAULT_HOLDOUT, MIN_HOLDOUT)
    fake_targets.register(monkeypatch)
    url = f"sqlite:///{tmp_path / 'db.db'}"
    common = ["--space", str(TINY), "--storage", url]
    assert main(["hardware", "profile", *common, "--target", "fake-busy"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err[-1].startswith("nas: error: latency predictor of tiny on fake refused")
    assert "--reprofile" in err[-1]
    lut, fid = LatencyTableStore(Store(url)), SizeTarget().fingerprint_id()
    assert lut.tables() == []  # nothing stored, not even the table's entries
    # a busy table stored by hand (or by a version before fits were validated) stays until
    # --reprofile measures it again
    profile_table(Store(url), load_space(str(TINY)), SizeTarget(busy=True), 10)
    assert main(["hardware", "profile", *common, "--target", "fake"]) == 2
    capsys.readouterr()
    assert main(["hardware", "profile", *common, "--target", "fake", "--reprofile"]) == 0
    assert "18 entries" in capsys.readouterr().out
    assert lut.fit(load_space(str(TINY)).digest, fid, 10) is not None
