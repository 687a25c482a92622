"""The command line: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nas.cli import COMMANDS, main
from tests.conftest import TINY, nas_cmd, subprocess_env


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        nas_cmd(*args), capture_output=True, text=True, cwd=cwd, env=subprocess_env(), timeout=300
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: nas " + command.split()[0] in out
    assert "--storage" in out or command in ("search", "compress")  # compress reads a folder


def test_top_level_help_lists_commands(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_cli_search_show_and_studies_in_a_subprocess(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    r = _run(
        "search",
        "--space",
        str(TINY),
        "--budget",
        "3",
        "--supernet-epochs",
        "1",
        "--calib-batches",
        "1",
        "--storage",
        url,
        "--study",
        "cli",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "Pareto front of cli" in r.stdout
    assert "optuna-dashboard " + url in r.stdout
    assert "nas export cli" in r.stdout
    r = _run("studies", "--storage", url, cwd=tmp_path)
    assert r.returncode == 0 and "cli" in r.stdout and "3/3" in r.stdout
    r = _run("show", "cli", "--storage", url, cwd=tmp_path)
    assert r.returncode == 0 and "Pareto front" in r.stdout and "space tiny," in r.stdout
    # checkpoint saved beside the database
    assert list((tmp_path / "nas_checkpoints").glob("tiny-*.safetensors"))


def test_studies_on_an_empty_storage_says_how_to_start(tmp_path: Path, capsys) -> None:
    from nas.storage import Store

    Store(f"sqlite:///{tmp_path / 'e.db'}")
    assert main(["studies", "--storage", f"sqlite:///{tmp_path / 'e.db'}"]) == 0
    assert "nas search --space mobile" in capsys.readouterr().out
