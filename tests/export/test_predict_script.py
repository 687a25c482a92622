"""The ``predict.py`` written beside an export, run as a user runs it: from another folder,
with ``--model model.int8.onnx`` (what ``nas compress`` writes), and with a missing file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.export import files


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """An export folder holding predict.py, architecture.json and a tiny ONNX classifier
    (class = argmax of the image's four pixels) under the int8 model's name."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from nas.export.artifacts import predict_source

    out = tmp_path / "export"
    out.mkdir()
    (out / files.PREDICT).write_bytes(predict_source())
    pre = {"pixel_scale": 1, "channels": 1, "resize": [2, 2], "mean": [0.0], "std": [1.0]}
    arch = {"preprocessing": pre, "classes": ["a", "b", "c", "d"]}
    (out / files.ARCHITECTURE).write_text(json.dumps(arch))
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 2, 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(out / files.INT8_ONNX))
    return out


def _predict(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd
    )


def test_model_is_found_beside_the_script_from_another_folder(
    export_dir: Path, tmp_path: Path
) -> None:
    x = np.eye(4, dtype=np.float32).reshape(4, 2, 2)  # image k lights pixel k: class k
    np.savez(tmp_path / "images.npz", x=x, y=np.arange(4))
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    script = export_dir / files.PREDICT
    done = _predict(script, "../images.npz", "--model", files.INT8_ONNX, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "accuracy 4/4 = 1.000000"


def test_a_missing_model_or_images_file_is_one_line_and_exit_2(
    export_dir: Path, tmp_path: Path
) -> None:
    np.savez(tmp_path / "images.npz", x=np.zeros((1, 2, 2), dtype=np.float32))
    script = export_dir / files.PREDICT
    for args, says in (
        (["images.npz", "--model", "nope.onnx"], "no model nope.onnx in "),
        (["missing.npz", "--model", files.INT8_ONNX], "cannot read images missing.npz"),
    ):
        done = _predict(script, *args, cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("predict.py: error: " + says), lines
    # the line names the models the export does have
    assert (
        files.INT8_ONNX in _predict(script, "images.npz", "--model", "x.onnx", cwd=tmp_path).stderr
    )
