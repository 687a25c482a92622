"""Every row of docs/bad-input.md: one line, exit status 2, every file as it was.

In ``argv`` below, ``@name`` is a file of the test folder (see ``_inputs``); a search without
``--storage`` uses a copy of a storage that already holds a study named ``existing``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nas.cli import main
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]

BAD = [
    (["search", "--space", "@broken.yaml"], "broken.yaml: line 3 is not valid YAML"),
    (["search", "--space", "@incomplete.yaml"], "field 'block': Field required"),
    (["search", "--space", "nosuch"], "unknown space 'nosuch'; known spaces: "),
    (["search", "--data", "@empty.npz"], "empty.npz: the data set is empty"),
    (["search", "--data", "@flat.npz"], "images must have shape (N, H, W)"),
    (["search", "--data", "@negative.npz"], "labels must be 0..K-1, found -1"),
    (["search", "--data", "@short.npz"], "expected 40 labels in a 1-D array, got shape (30,)"),
    (["search", "--data", "@oneclass.npz"], "a classifier needs 2+ classes"),
    (["search", "--data", "missing.npz"], "data set 'missing.npz' not found"),
    (["search", "--budget", "0"], "--budget must be at least 1, got 0"),
    (["search", "--budget", "-3"], "--budget must be at least 1, got -3"),
    (["search", "--budget", "x"], "expected a whole number, got 'x'"),
    (
        ["search", "--space", "nb201", "--budget", "20000"],
        "--budget 20000 is more than the 15625 distinct architectures of space 'nb201'",
    ),
    (["search", "--strategy", "annealing"], "unknown strategy 'annealing'"),
    (["search", "--target", "tpu"], "unknown target 'tpu'"),
    (["search", "--target", "remote:127.0.0.1:1"], "unreachable after"),
    (["search", "--target", "remote:nohostname"], "remote target must be remote:HOST:PORT"),
    (["search", "--evaluator", "oracle"], "unknown evaluator 'oracle'"),
    (["search", "--evaluator", "synthetic:x"], "needs 0 <= SECONDS <= 3600"),
    (["search", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["search", "--objective", "weighted"], "needs --latency-target-ms"),
    (
        ["search", "--objective", "weighted", "--latency-target-ms", "inf"],
        "--latency-target-ms must be a finite number, got inf",
    ),
    (
        ["search", "--strategy", "darts", "--space", "nb201", "--supernet-epochs", "3"]
        + ["--evaluator", "supernet"],  # the default (the table's runs add a synthetic one)
        "--strategy darts does not use --supernet-epochs",
    ),
    (["search", "--darts-order", "2"], "--strategy nsga2 does not use --darts-order"),
    (
        ["search", "--study", "existing", "--objective", "weighted", "--latency-target-ms", "2"],
        "study 'existing' was created with objective='pareto'",
    ),
    (["search", "--storage", "sqlite:////no/such/dir/x.db"], "folder /no/such/dir does not exist"),
    (["search", "--storage", "garbage"], "cannot parse storage URL 'garbage'"),
    (
        ["search", "--storage", "postgresql://nas:pw@127.0.0.1:1/x"],
        "cannot open storage postgresql://nas:***@127.0.0.1:1/x: connection to server",
    ),
    (["search", "--storage", "@other-tool.db"], "is a database of another tool"),
    (["search", "--storage", "@notes.db"], "is not a SQLite database"),
    (["show", "nostudy"], "no study named 'nostudy'"),
    (["worker", "--study", "nostudy"], "no study named 'nostudy'"),
    (["worker", "--study", "plain"], "study 'plain' was not made by this version of nas search"),
    (["worker", "--study", "x", "--storage", "@absent.db"], "absent.db does not exist"),
    (["worker", "--study", "x", "--storage", "@other-tool.db"], "is a database of another tool"),
]


@pytest.fixture(scope="module")
def existing_db(tmp_path_factory) -> Path:
    from nas.search import SearchOptions, run_search

    db = tmp_path_factory.mktemp("existing") / "studies.db"
    opts = SearchOptions(
        space=str(TINY),
        budget=2,
        evaluator="synthetic",
        storage=f"sqlite:///{db}",
        study="existing",
    )
    assert run_search(opts).completed == 2
    import optuna

    optuna.create_study(study_name="plain", storage=opts.storage)  # made by Optuna, not nas
    import sqlite3

    con = sqlite3.connect(db)  # move everything from the WAL into the file we copy
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db


def _inputs(folder: Path, existing_db: Path) -> None:
    """The bad files of the table, and a copy of a storage with one study in it."""
    import shutil
    import sqlite3

    import numpy as np

    shutil.copy(existing_db, folder / "studies.db")
    (folder / "broken.yaml").write_text("name: x\nstages: [[[\n")
    (folder / "incomplete.yaml").write_text("name: x\nkind: chain\nstages: 5\n")
    img = np.zeros((40, 8, 8, 3), dtype=np.uint8)
    np.savez(folder / "empty.npz", x=img[:0], y=np.zeros(0, dtype=np.int64))
    np.savez(folder / "flat.npz", x=np.zeros((40, 8)), y=np.arange(40) % 2)
    np.savez(folder / "negative.npz", x=img, y=np.arange(40) % 3 - 1)
    np.savez(folder / "short.npz", x=img, y=np.zeros(30, dtype=np.int64))
    np.savez(folder / "oneclass.npz", x=img, y=np.zeros(40, dtype=np.int64))
    con = sqlite3.connect(folder / "other-tool.db")
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.commit()
    con.close()
    (folder / "notes.db").write_text("not a database\n" * 50)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes. SQLite's shared-memory index (-shm) and an *empty* write-ahead log
    (-wal) appear whenever a database is opened, even read-only; they hold no data."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and p.stat().st_size == 0)
    }


def _argv(argv: list[str], folder: Path) -> list[str]:
    out = []
    for a in argv:
        if a.startswith("@"):
            a = str(folder / a[1:])
            if a.endswith(".db"):
                a = f"sqlite:///{a}"
        out.append(a)
    if out[0] == "search":
        if "--space" not in out:
            out += ["--space", str(TINY)]
        if "--evaluator" not in out:  # nothing heavy even if a row were accepted by mistake
            out += ["--evaluator", "synthetic"]
    if "--storage" not in out:
        out += ["--storage", f"sqlite:///{folder / 'studies.db'}"]
    return out


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    argv: list[str], message: str, tmp_path: Path, existing_db: Path, capsys, monkeypatch
) -> None:
    _inputs(tmp_path, existing_db)
    monkeypatch.chdir(tmp_path)  # relative paths (missing.npz, nas_checkpoints/) land here
    monkeypatch.setenv("NAS_DEVICE_TOKEN", "secret")  # so a remote row fails on the address
    before = _files(tmp_path)
    code = main(_argv(argv, tmp_path))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err  # nothing else, not even a blank line
    assert lines[0].startswith("nas: error: ") and message in lines[0], lines[0]
    assert _files(tmp_path) == before


def test_every_row_is_in_the_documented_table() -> None:
    doc = (ROOT / "docs" / "bad-input.md").read_text()
    for _, message in BAD:
        assert message in doc, message


def test_corrupted_checkpoint_is_not_loaded_but_retrained(tmp_path: Path, caplog) -> None:
    from nas.search import SearchOptions, run_search
    from nas.storage import Store
    from nas.storage.checkpoints import file_sha256
    from nas.storage.tables import CheckpointRecord

    opts = dict(space=str(TINY), budget=1, supernet_epochs=1, calib_batches=1, batch_size=256)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert run_search(SearchOptions(**opts, storage=url, study="a")).supernet == "trained"
    (ckpt,) = (tmp_path / "nas_checkpoints").glob("*.safetensors")
    data = bytearray(ckpt.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the weights: still a readable safetensors file
    ckpt.write_bytes(bytes(data))
    assert run_search(SearchOptions(**opts, storage=url, study="b")).supernet == "trained"
    assert "checksum differs; retraining" in caplog.text
    with Store(url).session() as s:
        (record,) = s.query(CheckpointRecord).all()
    assert record.sha256 == file_sha256(ckpt)  # the record now vouches for the new file
    assert run_search(SearchOptions(**opts, storage=url, study="c")).supernet == "loaded"


def test_weights_are_only_loaded_without_pickle() -> None:
    """safetensors or torch.load(weights_only=True); never plain pickle of untrusted files."""
    for path in (ROOT / "nas").rglob("*.py"):
        src = path.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", src):
            assert "weights_only=True" in call, f"{path}: {call}"
        if re.search(r"^import pickle|pickle\.load", src, re.M):
            assert path.name == "readers.py", path  # CIFAR batches: a numpy-only unpickler
    readers = (ROOT / "nas" / "data" / "readers.py").read_text()
    assert "class _NumpyOnlyUnpickler" in readers and "pickle.load(" not in readers
