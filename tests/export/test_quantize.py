"""int8 quantization writes its model and nothing else: the current directory is untouched."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from nas.export.onnx import onnx_bytes
from nas.export.quantize import quantize_int8


# nb201: the graph ONNX Runtime's symbolic shape inference cannot finish (it used to leave
# sym_shape_infer_temp.onnx and a <uuid>.data in the current directory); mobile: one it can
@pytest.mark.parametrize("space_name", ["nb201", "mobile"])
def test_quantize_leaves_the_current_directory_as_it_was(
    space_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    from nas.spaces import load_space
    from nas.supernet.base import create_subnet

    space = load_space(space_name)
    net = create_subnet(space, space.sample(random.Random(0)), 10).eval()
    shape = (1, space.input_channels, space.train_resolution, space.train_resolution)
    models = tmp_path / "models"
    models.mkdir()
    (models / "model.onnx").write_bytes(onnx_bytes(net, shape))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((4, *shape[1:])).astype(np.float32) for _ in range(2)]
    quantize_int8(models / "model.onnx", models / "model.int8.onnx", calib)
    assert os.listdir(cwd) == []
    assert sorted(os.listdir(models)) == ["model.int8.onnx", "model.onnx"]
    sess = onnxruntime.InferenceSession(
        str(models / "model.int8.onnx"), providers=["CPUExecutionProvider"]
    )
    (logits,) = sess.run(["logits"], {"input": calib[0]})
    assert logits.shape == (4, 10) and np.isfinite(logits).all()
