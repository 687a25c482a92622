"""Every built-in space exports and compresses, looping over the space registry.

For each space: a one-trial search (one supernet epoch on 240 digits), ``nas export``, then
checks where a user opens the files: ONNX Runtime in a process that cannot import nas or torch
(against the torch output), TorchScript, ``nas.load``, the shipped ``predict.py`` (numpy +
onnxruntime only) reproducing the recorded test accuracy, and ``nas compress``, which prunes
what it can and says what it cannot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import nas
from nas.export import files
from nas.spaces import builtin_names

pytestmark = pytest.mark.slow

# runs a script with nas and torch made unimportable: what a user without nas has
NO_NAS = (
    "import runpy, sys; sys.modules['torch'] = None; sys.modules['nas'] = None; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)
ORT_CHECK = """\
import sys
import numpy as np
import onnxruntime
model, io = sys.argv[1], sys.argv[2]
with np.load(io) as f:
    x, want = f["x"], f["logits"]
s = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
got = s.run(["logits"], {"input": x})[0]
print(float(np.abs(got - want).max()))
"""
_CACHE: dict[str, Path] = {}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = tmp_path_factory.mktemp("data") / "digits240.npz"
    np.savez(path, x=digits.images[:240].astype(np.float32) / 16.0, y=digits.target[:240])
    return str(path)


def _export(space: str, data: str, factory: pytest.TempPathFactory) -> Path:
    if space not in _CACHE:
        from nas.export.study_export import ExportOptions, export_study
        from nas.search.driver import run_search
        from nas.search.options import SearchOptions

        root = factory.mktemp(f"export-{space}")
        url = f"sqlite:///{root / 'studies.db'}"
        run_search(
            SearchOptions(
                space=space,
                budget=1,
                strategy="random",
                data=data,
                storage=url,
                study="s",
                supernet_epochs=1,
                calib_batches=1,
                batch_size=64,
                threads=1,
            )
        )
        out = root / "export"
        export_study(ExportOptions(study="s", out=str(out), storage=url))
        _CACHE[space] = out
    return _CACHE[space]


def _run_without_nas(script: Path, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-c", NO_NAS, str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("space", builtin_names())
def test_every_builtin_space_exports_and_runs_outside_nas(
    space: str, small_data: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from nas.export.widths import why_not

    out = _export(space, small_data, tmp_path_factory)
    model = nas.load(out)
    prunable = why_not(model) is None
    expected = set(files.EXPORT_FILES) - (set() if prunable else {files.COMPRESSION})
    assert {p.name for p in out.iterdir()} == expected
    a = json.loads((out / files.ARCHITECTURE).read_text())
    assert a["space"]["name"] == space
    assert a["classes"] == [str(i) for i in range(10)]
    pre = a["preprocessing"]
    assert pre["resize"] == a["input_shape"][2:] and pre["channels"] == a["input_shape"][1]
    assert len(pre["mean"]) == len(pre["std"]) == pre["channels"]
    if prunable:
        config = json.loads((out / files.COMPRESSION).read_text())
        names = dict(model.named_modules())
        assert config[0]["op_names"] and all(n in names for n in config[0]["op_names"])

    # ONNX Runtime, in a process without nas or torch, against the torch output
    x = torch.randn(5, *a["input_shape"][1:], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
    io = tmp_path / "io.npz"
    np.savez(io, x=x.numpy(), logits=logits.numpy())
    check = tmp_path / "ort_check.py"
    check.write_text(ORT_CHECK)
    assert float(_run_without_nas(check, str(out / files.ONNX), str(io))) < 1e-4
    # TorchScript
    ts = torch.jit.load(str(out / files.TORCHSCRIPT))
    with torch.no_grad():
        torch.testing.assert_close(ts(x), logits, rtol=1e-4, atol=1e-5)

    # predict.py reproduces the recorded test accuracy on the test split from raw pixels
    from nas.data import load_data

    raw = load_data(small_data)
    images = tmp_path / "test.npz"
    np.savez(images, x=raw.x_test * raw.pixel_scale, y=raw.y_test)
    line = _run_without_nas(out / files.PREDICT, str(images)).strip()
    right, n = (int(v) for v in line.split()[1].split("/"))
    assert n == len(raw.y_test)
    recorded = json.loads((out / files.METRICS).read_text())["accuracy"]["test"]
    assert right == round(recorded * n), (line, recorded)


# DARTS takes the same path as NAS-Bench-201 (a cell network: not pruned, int8 only) at ten
# times the cost, so the compress loop leaves it out; the export loop above covers it.
@pytest.mark.parametrize("space", [n for n in builtin_names() if n != "darts"])
def test_every_builtin_space_compresses_pruning_what_it_can(
    space: str,
    small_data: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nas.export.compress import CompressOptions, compress
    from nas.export.widths import why_not, widths
    from nas.hardware.timing import TimingConfig

    src = _export(space, small_data, tmp_path_factory)
    before = nas.load(src)
    fast = TimingConfig(warmup=1, min_runs=3, max_runs=3, max_seconds=0.5)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # compress writes only into --out
    r = compress(
        CompressOptions(
            source=str(src), out=str(tmp_path / "c"), finetune_epochs=1, threads=1, timing=fast
        )
    )
    after = nas.load(r.out)
    models = [row.model for row in r.rows]
    assert (r.out / files.INT8_ONNX).is_file()
    assert list(cwd.iterdir()) == []
    if why_not(before) is None:
        assert models == [
            "exported", "fine-tuned", "pruned", "exported", "pruned", "pruned + int8"
        ]  # fmt: skip
        assert all(widths(after)[k] < v for k, v in widths(before).items() if v > 1)
        assert r.rows[2].params < r.rows[1].params == r.rows[0].params
    else:
        assert models == ["exported", "exported", "int8"]
        assert any("not pruned" in n for n in r.notes)
        assert any("int8 quantization still applies" in n for n in r.notes)
        assert not (r.out / files.COMPRESSION).exists()
    # the written export is the compressed network, in torch and in ONNX Runtime
    import onnxruntime

    shape = json.loads((r.out / files.ARCHITECTURE).read_text())["input_shape"]
    x = torch.randn(3, *shape[1:], generator=torch.Generator().manual_seed(1))
    sess = onnxruntime.InferenceSession(
        str(r.out / files.ONNX), providers=["CPUExecutionProvider"]
    )
    with torch.no_grad():
        want = after(x).numpy()
    np.testing.assert_allclose(sess.run(["logits"], {"input": x.numpy()})[0], want, atol=1e-4)
