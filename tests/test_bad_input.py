"""Every row of docs/bad-input.md: one line, exit status 2, every file as it was.

In ``argv`` below, ``@name`` is a file of the test folder (see ``_inputs``); a search without
``--storage`` uses a copy of a storage that already holds a study named ``existing``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nas.cli import main
from tests.conftest import TINY, zip_bomb_npz

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
    (["search", "--data", "/dev/zero"], "data set '/dev/zero' is not a file or a folder"),
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
    (["search", "--evaluator", "zero-cost:nosuch"], "unknown zero-cost proxy 'nosuch'"),
    (["search", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["search", "--objective", "weighted"], "needs --latency-target-ms"),
    (
        ["search", "--objective", "weighted", "--latency-target-ms", "inf"],
        "--latency-target-ms must be a finite number, got inf",
    ),
    (
        ["search", "--strategy", "darts", "--space", "nb201", "--supernet-epochs", "3"]
        + ["--evaluator", "auto"],  # the default (the table's runs add a synthetic one)
        "--strategy darts does not use --supernet-epochs",
    ),
    (["search", "--darts-order", "2"], "--strategy nsga2 does not use --darts-order"),
    (["search", "--warm-start", "naswot"], "--warm-start: unknown proxy 'naswot'; the pre-screen"),
    (["search", "--warm-start", "params:0"], "the pool must be 1 to 100,000 architectures, got 0"),
    (["search", "--warm-start", "params:many"], "the pool after ':' must be a whole number"),
    (
        ["search", "--strategy", "darts", "--space", "nb201", "--warm-start", "params"]
        + ["--evaluator", "auto"],
        "--strategy darts does not use --warm-start: only evolution, nsga2, random, tpe do",
    ),
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
    # sizes from outside, each capped (nas.limits)
    (["search", "--space", "@head.yaml"], "field 'head_channels': must be at most 8192"),
    (["search", "--space", "@resolution.yaml"], "field 'train_resolution': must be at most 1024"),
    (["search", "--space", "@deep.yaml"], "field 'depth.0': must be at most 64"),
    (["search", "--space", "@stages.yaml"], "field 'stages': at most 64 items are allowed"),
    (["search", "--space", "@laughs.yaml"], "its aliases expand to more than 100,000 values"),
    (["search", "--space", "@loop.yaml"], "an alias refers to itself"),
    (["search", "--data", "@zero.npz"], "zero.npz: not a readable .npz file"),
    (["search", "--data", "@noarrays.npz"], "noarrays.npz: expected arrays 'x' and 'y', found []"),
    (["search", "--data", "@bomb.npz"], "bomb.npz: its arrays unpack to 3,000,000,448 bytes"),
    (["search", "--data", "@strings.npz"], "images must be numbers (integers or floats)"),
    (["search", "--data", "@biglabel.npz"], "label 1000000000 means 1,000,000,001 classes"),
    (["search", "--data", "@nan.npz"], "pixel value(s) are NaN or infinite"),
    (["search", "--data", "@inf.npz"], "pixel value(s) are NaN or infinite"),
    (["search", "--data", "@bomb_images"], "its header declares more pixels than the cap"),
    (["search", "--data", "@fifo_images"], "pipe.png: not a regular file"),
    (["search", "--evaluator", "table:@negative.csv"], "must hold finite numbers >= 0"),
    (["search", "--evaluator", "table:@infinite.csv"], "must hold finite numbers >= 0"),
    # numbers from outside: finite and in range, before the study is created
    (["search", "--seed", "-1"], "--seed must be at least 0, got -1"),
    (["search", "--seed", "4294967296"], "--seed must be at most 4,294,967,295"),
    (
        ["search", "--objective", "weighted", "--latency-target-ms", "inf"],
        "--latency-target-ms must be a finite number, got inf",
    ),
    (["search", "--max-latency-ms", "nan"], "--max-latency-ms must be a finite number, got nan"),
    (["search", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["search", "--checkpoint-dir", "@broken.yaml"], "is a file, not a folder"),
    (["search", "--storage", "@studies.db?mode=ro"], "a sqlite URL takes no ?options (mode)"),
    # names: short and printable, refused on the way in
    (["search", "--study", "x" * 10_000], "the study name has 10000 characters; at most 128"),
    (["search", "--study", "a\x1b[2Jb\nc"], "the study name 'a\\x1b[2Jb\\nc' holds control"),
    # storages, servers and tokens (issue 25): a line, not a traceback or a silent start
    (
        ["search", "--storage", "postgresql://nas:pw@[::1/x"],
        "cannot parse storage URL 'postgresql://nas:***@[::1/x'",
    ),
    (["search", "--storage", "sqlite://"], "storage sqlite:// is SQLite in memory"),
    (["status", "--server", "notaurl"], "argument --server: expected the server's URL"),
    # each server row has a second bad option that is checked later: were the first accepted
    # by mistake, the row fails on the second instead of serving for ever
    (["serve", "--slots", "-1", "--data-dir", "@broken.yaml"], "--slots must be 0-64, got -1"),
    (
        ["serve", "--allow-target", "tpu", "--data-dir", "@broken.yaml"],
        "--allow-target: unknown target 'tpu'",
    ),
    (
        ["device", "serve", "--port", "0", "--token", "x", "--max-upload-mb", "-1"],
        "the device token must have at least 16 characters, got 1",
    ),
    # written before the refusal: a plain Optuna database stays as it was
    (["search", "--study", "plain", "--storage", "@optuna-only.db"], "was not made by nas"),
]


@pytest.fixture(scope="module")
def existing_db(tmp_path_factory) -> Path:
    from nas.search.driver import run_search
    from nas.search.options import SearchOptions

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
    _space_inputs(folder)
    _data_inputs(folder)
    _table_inputs(folder)
    import optuna  # a database made by Optuna alone (rollback journal, no nas tables)

    optuna.create_study(study_name="plain", storage=f"sqlite:///{folder / 'optuna-only.db'}")


def _space_inputs(folder: Path) -> None:
    import yaml

    tiny = yaml.safe_load(TINY.read_text())
    for name, field, value in [
        ("head", "head_channels", 1_000_000_000),
        ("resolution", "train_resolution", 100_000),
        ("deep", "depth", [10_000]),
        ("stages", "stages", [tiny["stages"][0]] * 10_000),
    ]:
        (folder / f"{name}.yaml").write_text(yaml.safe_dump({**tiny, field: value}))
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):  # 9**9 values once expanded
        laughs += f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]\n"
    (folder / "laughs.yaml").write_text(laughs + "name: *i\nkind: chain\n")
    (folder / "loop.yaml").write_text("name: &n [*n]\nkind: chain\n")


def _data_inputs(folder: Path) -> None:
    import os
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    img = np.zeros((40, 8, 8, 3), dtype=np.uint8)
    two = np.arange(40) % 2
    (folder / "zero.npz").write_bytes(b"")
    (folder / "bomb.npz").write_bytes(zip_bomb_npz(3_000_000_000))
    np.savez(folder / "noarrays.npz")
    np.savez(folder / "strings.npz", x=np.full((40, 8, 8, 3), "a"), y=two)
    np.savez(folder / "biglabel.npz", x=img, y=np.where(np.arange(40) == 39, 10**9, two))
    pixels = np.random.default_rng(0).random((40, 8, 8, 3)).astype(np.float32)
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        x = pixels.copy()
        x[7, 3, 3, 1] = bad
        np.savez(folder / f"{name}.npz", x=x, y=two)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)  # declares 30000x30000
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
    for name in ("bomb_images", "fifo_images"):
        for cls in ("a", "b"):
            (folder / name / cls).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(folder / name / cls / f"{i}.png")
    (folder / "bomb_images" / "a" / "big.png").write_bytes(bomb + chunk(b"IEND", b""))
    os.mkfifo(folder / "fifo_images" / "a" / "pipe.png")  # would block a reader for ever


def _table_inputs(folder: Path) -> None:
    import random

    from nas.spaces import load_space

    space = load_space(str(TINY))
    rng = random.Random(0)  # the table evaluator probes with this seed: its keys are here
    keys = sorted({space.describe(space.sample(rng)) for _ in range(64)})
    for name, bad in (("negative", "-1.5"), ("infinite", "inf")):
        lines = ["arch,accuracy,latency_ms"]
        lines += [f"{k},{50 + i % 7},{bad if i == 3 else 1 + i / 10}" for i, k in enumerate(keys)]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")


def _files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes. SQLite's shared-memory index (-shm) and an *empty* write-ahead log
    (-wal) appear whenever a database is opened, even read-only; they hold no data."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else p.stat().st_mode
        for p in folder.rglob("*")
        if (p.is_file() or p.is_fifo())
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and p.stat().st_size == 0)
    }


def _argv(argv: list[str], folder: Path) -> list[str]:
    out = []
    for a in argv:
        prefix, at, rest = a.partition("@")
        if at and prefix in ("", "table:"):
            a = prefix + str(folder / rest)
            if ".db" in rest:
                a = f"sqlite:///{a}"
        out.append(a)
    if out[0] == "search":
        if "--space" not in out:  # (a table row needs the tiny space too: its keys are tiny's)
            out += ["--space", str(TINY)]
        if "--evaluator" not in out:  # nothing heavy even if a row were accepted by mistake
            out += ["--evaluator", "synthetic"]
    if "--storage" not in out and out[0] not in ("status", "device"):  # they take none
        out += ["--storage", f"sqlite:///{folder / 'studies.db'}"]
    return out


@pytest.mark.parametrize(
    ("argv", "message"),
    BAD,
    ids=[" ".join(a[:3])[:40].encode("unicode_escape").decode() for a, _ in BAD],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    argv: list[str], message: str, tmp_path: Path, existing_db: Path, capsys, monkeypatch
) -> None:
    _inputs(tmp_path, existing_db)
    monkeypatch.chdir(tmp_path)  # relative paths (missing.npz, nas_checkpoints/) land here
    monkeypatch.setenv("NAS_DEVICE_TOKEN", "secret")  # so a remote row fails on the address
    monkeypatch.setenv("NAS_TOKEN", "a-token-long-enough")  # so a serve row fails on its option
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


def test_the_documented_caps_are_the_modules() -> None:
    """docs/bad-input.md lists every cap of nas.limits with its value, and no other."""
    import nas.limits as limits

    doc = (ROOT / "docs" / "bad-input.md").read_text()
    block = doc.split("<!-- caps:start -->")[1].split("<!-- caps:end -->")[0]
    documented = {
        m[1]: float(m[2].replace(",", ""))
        for m in re.finditer(r"\| `(MAX_\w+)` \| ([\d,.]+) \|", block)
    }
    actual = {k: float(v) for k, v in vars(limits).items() if k.startswith("MAX_")}
    assert documented == actual


def test_corrupted_checkpoint_is_not_loaded_but_retrained(tmp_path: Path, caplog) -> None:
    from nas.search.driver import run_search
    from nas.search.options import SearchOptions
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


def test_hostile_names_already_stored_are_printed_escaped(tmp_path: Path, capsys) -> None:
    """A name another program stored (nas refuses such names on the way in) cannot drive the
    terminal or rich's markup when nas lists or shows it."""
    import optuna

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    name = "evil\x1b[2J\n[red]x[/red]\x07"
    optuna.create_study(study_name=name, storage=url)
    assert main(["studies", "--storage", url]) == 0
    assert main(["show", name, "--storage", url]) == 0
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "[red]x[/red]" in out  # shown literally, escapes as text
