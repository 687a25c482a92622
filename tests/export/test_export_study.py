"""``nas export`` and ``nas.load`` on a real tiny study: contents, equality, stability, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

import nas
from nas.cli import main
from nas.export import files
from nas.storage import keys
from tests.export.helpers import TinyStudy, exported, tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> TinyStudy:
    return tiny_study(tmp_path_factory)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(tmp_path_factory)


def _trials(s: TinyStudy) -> list[optuna.trial.FrozenTrial]:
    st = optuna.load_study(study_name=s.study, storage=s.storage)
    return st.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


def _rebuilt_subnet(s: TinyStudy, arch: dict) -> torch.nn.Module:
    """The trial's network made the way the search made it: checkpoint, extract, recalibrate
    (with the search's --supernet-seed, 0; the study's --seed 1 seeds only its proposals)."""
    from nas.data import fit_to_space, load_data
    from nas.spaces import load_space
    from nas.storage import Store
    from nas.supernet.score import calibration_batches, extract_scored
    from nas.supernet.train import TrainConfig
    from nas.supernet.trained import load_supernet
    from tests.conftest import TINY

    space = load_space(str(TINY))
    data = fit_to_space(load_data(), channels=3, resolution=space.train_resolution)
    net, _ = load_supernet(
        Store(s.storage), space, data, TrainConfig(epochs=1, batch_size=256, seed=0)
    )
    calib = calibration_batches(data.x_train, n_batches=1, batch_size=128, seed=0)
    sub, _ = extract_scored(net, arch, calib, data.x_val, data.y_val)
    return sub


def test_export_holds_every_file_and_describes_the_knee_trial(
    study: TinyStudy, export_dir: Path
) -> None:
    from nas.analysis.results import knee, pareto_front

    assert sorted(p.name for p in export_dir.iterdir()) == sorted(files.EXPORT_FILES)
    chosen = knee(pareto_front(_trials(study)))
    assert chosen is not None
    a = json.loads((export_dir / files.ARCHITECTURE).read_text())
    assert a["format"] == "nas-export" and a["space"]["name"] == "tiny"
    assert a["space"]["version"] == 1
    assert a["arch"] == chosen.user_attrs[keys.ARCH]
    assert a["arch_hash"] == chosen.user_attrs[keys.ARCH_HASH]
    assert a["arch_str"] == chosen.user_attrs[keys.ARCH_STR]
    assert a["num_classes"] == 10 and a["input_shape"] == [1, 3, 8, 8]
    assert a["source"]["study"] == study.study and a["source"]["trial"] == chosen.number
    assert a["widths"] == {}
    m = json.loads((export_dir / files.METRICS).read_text())
    # the same network, BatchNorm recalibrated on the same batches: the search's accuracy
    assert m["accuracy"]["val"] == pytest.approx(chosen.user_attrs[keys.ACCURACY], abs=1e-12)
    assert 0.0 <= m["accuracy"]["test"] <= 1.0
    assert m["latency"] == chosen.user_attrs[keys.LATENCY]
    assert m["fingerprint"] == chosen.user_attrs[keys.FINGERPRINT]
    assert m["params_m"] == pytest.approx(chosen.user_attrs[keys.PARAMS_M])
    assert m["flops_m"] == pytest.approx(chosen.user_attrs[keys.FLOPS_M])


def test_load_equals_the_extracted_subnet(study: TinyStudy, export_dir: Path) -> None:
    a = json.loads((export_dir / files.ARCHITECTURE).read_text())
    loaded = nas.load(export_dir)
    ref = _rebuilt_subnet(study, a["arch"]).eval()
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(x), ref(x))
    assert not loaded.training


def test_onnx_and_torchscript_match_torch(export_dir: Path) -> None:
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(str(export_dir / files.ONNX)), full_check=True)
    net = nas.load(export_dir)
    sess = ort.InferenceSession(str(export_dir / files.ONNX), providers=["CPUExecutionProvider"])
    ts = torch.jit.load(str(export_dir / files.TORCHSCRIPT))
    rng = np.random.default_rng(0)
    # dynamic batch (and spatial) axes: several batch sizes and the latency shape
    for shape in [(1, 3, 8, 8), (7, 3, 8, 8), (2, 3, 32, 32)]:
        x = rng.standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            want = net(torch.from_numpy(x)).numpy()
            got_ts = ts(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"input": x})[0]
        assert got.shape == (shape[0], 10)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
        np.testing.assert_allclose(got_ts, want, atol=1e-5, rtol=0)


def test_compression_config_names_real_layers(export_dir: Path) -> None:
    cfg = json.loads((export_dir / files.COMPRESSION).read_text())
    net = nas.load(export_dir)
    names = dict(net.named_modules())
    prune, exclude = cfg
    assert prune["sparsity_per_layer"] == 0.5 and prune["op_types"] == ["Conv2d"]
    assert exclude["exclude"] is True
    n_blocks = len(net.blocks)
    expected = ["ends.head.0"] + [f"blocks.{i}.expand.0" for i in range(n_blocks)]
    assert prune["op_names"] == expected
    ex = set(exclude["op_names"])
    assert {"ends.classifier", "ends.stem.0"} <= ex
    for i in range(n_blocks):
        assert {f"blocks.{i}.project.0", f"blocks.{i}.depthwise.0"} <= ex
    assert not ex & set(prune["op_names"])
    for n in prune["op_names"] + exclude["op_names"]:
        assert n in names
    # every conv and linear layer is either prunable or excluded
    layers = {n for n, m in names.items() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)}
    assert layers == ex | set(prune["op_names"])


def test_reexport_is_byte_stable_and_keeps_the_users_files(
    study: TinyStudy, export_dir: Path, tmp_path: Path, capsys
) -> None:
    before = {p.name: p.read_bytes() for p in export_dir.iterdir()}
    other = tmp_path / "again"
    assert main(["export", study.study, "--out", str(other), "--storage", study.storage]) == 0
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before
    # into an earlier export: nas's files replaced (same bytes), stale nas files removed,
    # the user's own files left alone
    (other / "notes.txt").write_text("mine")
    (other / files.INT8_ONNX).write_bytes(b"stale")
    assert main(["export", study.study, "--out", str(other), "--storage", study.storage]) == 0
    assert (other / "notes.txt").read_text() == "mine"
    assert not (other / files.INT8_ONNX).exists()
    assert {p.name: p.read_bytes() for p in other.iterdir() if p.name != "notes.txt"} == before
    out = capsys.readouterr().out
    assert "knee pick of" in out


def test_finetuned_export_is_reproducible(study: TinyStudy, tmp_path: Path) -> None:
    from nas.export.study_export import ExportOptions, export_study

    runs = []
    for name in ("a", "b"):
        r = export_study(
            ExportOptions(
                study=study.study,
                out=str(tmp_path / name),
                storage=study.storage,
                pick="accuracy",
                finetune_epochs=1,
            )
        )
        runs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert runs[0] == runs[1]
    a = json.loads(runs[0][files.ARCHITECTURE])
    assert a["source"]["finetune_epochs"] == 1 and a["source"]["trial"] == r.trial


def test_picks(study: TinyStudy, tmp_path: Path) -> None:
    from nas.analysis.results import pareto_front
    from nas.export.select import choose
    from nas.storage import Store
    from nas.storage import studies as st

    s = st.load(Store(study.storage, read_only=True), study.study)
    settings = st.settings_of(s)
    assert settings is not None
    front = pareto_front(_trials(study))
    best = max(front, key=lambda t: t.user_attrs[keys.ACCURACY])
    assert choose(s, settings, pick="accuracy")[0].number == best.number
    assert choose(s, settings, pick="latency")[0].number == front[0].number
    assert choose(s, settings, trial=2)[0].number == 2
    limit = front[0].user_attrs[keys.LATENCY_MS]
    assert choose(s, settings, pick="accuracy", max_latency_ms=limit)[0].number == front[0].number


def _empty_study(study: TinyStudy) -> str:
    src = optuna.load_study(study_name=study.study, storage=study.storage)
    name = "empty"
    if name not in optuna.get_all_study_names(study.storage):
        dst = optuna.create_study(
            study_name=name, storage=study.storage, directions=["maximize", "minimize"]
        )
        dst.set_user_attr(keys.SETTINGS, src.user_attrs[keys.SETTINGS])
    return name


BAD = [
    (["--trial", "99"], "has no trial 99"),
    (["--trial", "1", "--pick", "knee"], "not allowed with argument"),
    (["--pick", "fastest"], "invalid choice: 'fastest'"),
    (["--trial", "1", "--max-latency-ms", "5"], "does not apply to --trial"),
    (["--max-latency-ms", "1e-9"], "no completed trial under"),
    (["--finetune-epochs", "-1"], "--finetune-epochs must be >= 0"),
    (["STUDY=nosuch"], "no study named 'nosuch'"),
    (["STUDY=empty"], "has no completed trials to export"),
]


@pytest.mark.parametrize(("extra", "message"), BAD, ids=[" ".join(e) for e, _ in BAD])
def test_bad_export_input_exits_2_and_writes_nothing(
    study: TinyStudy, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    name = study.study
    if extra and extra[0].startswith("STUDY="):
        name = extra[0].removeprefix("STUDY=")
        extra = []
        if name == "empty":
            _empty_study(study)
    out = tmp_path / "out"
    code = main(["export", name, "--out", str(out), "--storage", study.storage, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_export_refuses_a_folder_of_other_files(study: TinyStudy, tmp_path: Path, capsys) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    code = main(["export", study.study, "--out", str(tmp_path), "--storage", study.storage])
    err = capsys.readouterr().err
    assert code == 2 and "not a nas export" in err and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize(
    ("damage", "message"), [("move", "is missing"), ("corrupt", "does not match its recorded")]
)
def test_missing_checkpoint_is_an_error_not_a_retrain(
    study: TinyStudy, tmp_path: Path, capsys, damage: str, message: str
) -> None:
    import shutil

    ckpts = study.root / "nas_checkpoints"
    hidden = tmp_path / "hidden"
    shutil.copytree(ckpts, hidden)
    if damage == "move":
        shutil.rmtree(ckpts)
    else:
        (ckpt,) = ckpts.glob("*.safetensors")
        data = bytearray(ckpt.read_bytes())
        data[-1] ^= 0xFF
        ckpt.write_bytes(bytes(data))
    try:
        code = main(
            ["export", study.study, "--out", str(tmp_path / "o"), "--storage", study.storage]
        )
    finally:
        shutil.rmtree(ckpts, ignore_errors=True)
        shutil.move(hidden, ckpts)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content", [None, "{}", "not json"])
def test_load_refuses_what_is_not_an_export(tmp_path: Path, content: str | None) -> None:
    from nas.errors import NasInputError

    if content is not None:
        (tmp_path / files.ARCHITECTURE).write_text(content)
    with pytest.raises(NasInputError, match="not a nas export"):
        nas.load(tmp_path)


def test_load_refuses_weights_of_another_architecture(export_dir: Path, tmp_path: Path) -> None:
    import shutil

    from nas.errors import NasInputError

    d = tmp_path / "x"
    shutil.copytree(export_dir, d)
    a = json.loads((d / files.ARCHITECTURE).read_text())
    a["widths"] = {"head": 3}
    (d / files.ARCHITECTURE).write_text(json.dumps(a))
    with pytest.raises(NasInputError, match="weights do not fit"):
        nas.load(d)
    a["arch_hash"] = "0" * 16
    (d / files.ARCHITECTURE).write_text(json.dumps(a))
    with pytest.raises(NasInputError, match="does not match its hash"):
        nas.load(d)
