"""``nas compress`` on a real export: smaller, runs, matches its own ONNX; int8 runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import nas
from nas.cli import main
from nas.export import files
from nas.export.compress import CompressOptions, compress
from nas.hardware.timing import TimingConfig
from tests.export.helpers import exported

FAST = TimingConfig(warmup=1, min_runs=3, max_runs=3, max_seconds=1.0)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(tmp_path_factory)


@pytest.fixture(scope="module")
def compressed(export_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("compressed") / "c"
    r = compress(
        CompressOptions(
            source=str(export_dir),
            out=str(out),
            prune=0.5,
            finetune_epochs=1,
            threads=1,
            timing=FAST,
        )
    )
    return r


def test_compressed_folder_is_an_export_with_int8_and_report(compressed) -> None:
    out = compressed.out
    assert sorted(p.name for p in out.iterdir()) == sorted(files.OWN_FILES)
    a = json.loads((out / files.ARCHITECTURE).read_text())
    assert a["source"]["compressed"]["prune"] == 0.5
    report = json.loads((out / files.REPORT).read_text())
    assert [(r["model"], r["runtime"].split()[0]) for r in report["rows"]] == [
        ("exported", "torch"),
        ("fine-tuned", "torch"),
        ("pruned", "torch"),
        ("exported", "onnxruntime"),
        ("pruned", "onnxruntime"),
        ("pruned + int8", "onnxruntime"),
    ]
    for r in report["rows"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["latency"]["median_ms"] > 0
    # torch and ONNX Runtime fp32 agree on accuracy for the same network (up to an argmax
    # tie broken differently by BatchNorm folding's rounding)
    rows = report["rows"]
    assert rows[0]["test_accuracy"] == pytest.approx(rows[3]["test_accuracy"], abs=0.01)
    assert rows[2]["test_accuracy"] == pytest.approx(rows[4]["test_accuracy"], abs=0.01)
    md = (out / files.REPORT_MD).read_text()
    assert md.count("\n| ") == 7 and "pruned + int8" in md and "(not written)" in md


def test_fine_tuning_alone_has_a_row_of_its_own(export_dir: Path, compressed) -> None:
    """Like with like: the unpruned export fine-tuned the same epochs with the same seed, so
    the table credits fine-tuning and pruning each with its own change (issue 24 item 3)."""
    from nas.export.artifacts import read_spec
    from nas.export.compress import _load_data
    from nas.export.finetune import finetune
    from nas.export.study_export import evaluate
    from nas.supernet.seeding import seeded

    rows = {(r.model, r.runtime.split()[0]): r for r in compressed.rows}
    tuned, exported = rows[("fine-tuned", "torch")], rows[("exported", "torch")]
    assert tuned.params == exported.params > rows[("pruned", "torch")].params
    # the same fine-tuning, redone here on the export: the same test accuracy
    net = nas.load(export_dir)
    data = _load_data(read_spec(export_dir), None)  # the export's data, as compress reads it
    with seeded(0):
        finetune(net, data, epochs=1, seed=0)
    assert evaluate(net, data.x_test, data.y_test) == tuned.test_accuracy
    assert any(
        n.startswith("fine-tuned: the exported network fine-tuned 1 epoch(s) with seed 0")
        for n in compressed.notes
    )


def test_onnx_latency_hits_the_onnxruntime_targets_cache_key(
    export_dir: Path, compressed, tmp_path: Path
) -> None:
    """What compress records for the exported network is what a search on ``--target
    onnxruntime`` (same threads, same timing) finds in the latency cache for it."""
    from nas.export.artifacts import read_spec
    from nas.hardware import create_target
    from nas.hardware.lut import measure_arch
    from nas.storage import Store
    from nas.storage.latency_cache import LatencyCache

    target = create_target("onnxruntime", threads=1, timing=FAST)
    report = json.loads((compressed.out / files.REPORT).read_text())
    assert report["fingerprints"]["onnxruntime"] == target.fingerprint()
    row = next(r for r in report["rows"] if r["runtime"].startswith("onnxruntime"))
    assert row["model"] == "exported" and row["fingerprint_id"] == target.fingerprint_id()
    spec = read_spec(export_dir)
    cache = LatencyCache(Store(f"sqlite:///{tmp_path / 'cache.db'}"))
    key = (spec.space.hash(spec.arch), row["fingerprint_id"], report["latency_input"])
    cache.put(*key, row["latency"], report["fingerprints"]["onnxruntime"])
    stats, how = measure_arch(spec.space, spec.arch, target, spec.num_classes, cache)
    assert how == "cached" and stats == row["latency"]


def test_pruned_model_is_smaller_and_loads(export_dir: Path, compressed) -> None:
    from nas.export.widths import widths

    big, small = nas.load(export_dir), nas.load(compressed.out)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in big.parameters())
    assert widths(small) == {k: round(v * 0.5) for k, v in widths(big).items()}
    report = json.loads((compressed.out / files.REPORT).read_text())
    assert report["rows"][2]["params"] == sum(p.numel() for p in small.parameters())
    assert report["rows"][2]["flops_m"] < report["rows"][0]["flops_m"]
    assert (compressed.out / files.WEIGHTS).stat().st_size < (
        export_dir / files.WEIGHTS
    ).stat().st_size


def test_pruned_onnx_matches_torch_and_int8_runs(compressed) -> None:
    import onnxruntime as ort

    net = nas.load(compressed.out)
    fp32 = ort.InferenceSession(
        str(compressed.out / files.ONNX), providers=["CPUExecutionProvider"]
    )
    int8 = ort.InferenceSession(
        str(compressed.out / files.INT8_ONNX), providers=["CPUExecutionProvider"]
    )
    ops = {
        n.op_type
        for n in __import__("onnx").load(str(compressed.out / files.INT8_ONNX)).graph.node
    }
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(fp32.run(None, {"input": x})[0], want, atol=1e-4, rtol=0)
    q = int8.run(None, {"input": x})[0]
    assert q.shape == (5, 10) and np.isfinite(q).all()


def test_bad_compress_input_exits_2(export_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    cases = [
        ([str(tmp_path / "junk"), "--out", str(tmp_path / "o")], "is not a nas export"),
        ([str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], "is not a folder"),
        ([str(export_dir), "--out", str(tmp_path / "o"), "--prune", "1.5"], "--prune must be"),
        ([str(export_dir), "--out", str(export_dir)], "--out must differ"),
        ([str(export_dir), "--out", str(tmp_path / "junk")], "not a nas export"),
        ([str(export_dir), "--out", str(tmp_path / "o"), "--quantize", "int4"], "invalid choice"),
    ]
    for argv, message in cases:
        assert main(["compress", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "o").exists()
    assert [p.name for p in (tmp_path / "junk").iterdir()] == ["a.txt"]
