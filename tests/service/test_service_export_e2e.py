"""``nas serve`` end to end on a real supernet search of the tiny space: submit, wait, download
the knee's export zip, and run its ONNX file with ONNX Runtime, outside nas."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from nas.client import Client
from tests.conftest import TINY
from tests.service.helpers import TOKEN, Server

FAST = dict(supernet_epochs=1, calib_batches=1, batch_size=256)  # as tests/conftest.py's searches


def test_submit_wait_export_the_knee_and_run_its_onnx(tmp_path: Path) -> None:
    import onnxruntime as ort

    server = Server(tmp_path, slots=1)
    shutil.copy(TINY, server.data / "tiny.yaml")
    server.start()
    try:
        # about 30 s in all on an idle machine; on a loaded one the export (recalibrate, score,
        # write ONNX and TorchScript, in the API's process) alone took over a minute
        c = Client(server.url, TOKEN, timeout=300)
        s = c.submit(space="tiny.yaml", budget=3, seed=1, strategy="random", **FAST)
        p = c.wait(s["id"], timeout=600)
        assert (p["state"], p["complete"]) == ("done", 3), p["error"]
        front = c.front(s["id"])
        zipped = c.export(s["id"], tmp_path / "knee.zip", pick="knee")
    finally:
        server.stop()

    with zipfile.ZipFile(zipped) as z:
        names = set(z.namelist())
        assert {"architecture.json", "metrics.json", "model.onnx", "predict.py"} <= names
        z.extractall(tmp_path / "knee")
    arch = json.loads((tmp_path / "knee" / "architecture.json").read_text())
    # the picked trial is one of the search's Pareto front
    picked = {t["number"]: t["arch"] for t in front}.get(arch["source"]["trial"])
    assert picked == arch["arch_str"], (arch["source"], front)
    assert arch["source"]["study"] == s["study"]

    session = ort.InferenceSession(
        str(tmp_path / "knee" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (inp,) = session.get_inputs()
    assert inp.shape[1] == 3  # the tiny space's channels; batch, height and width are free
    _, channels, height, width = arch["input_shape"]
    x = np.random.default_rng(0).standard_normal((2, channels, height, width), np.float32)
    (logits,) = session.run(["logits"], {inp.name: x})
    assert logits.shape == (2, arch["num_classes"]) and np.isfinite(logits).all()
    assert not np.allclose(logits[0], logits[1])  # the network looks at its input
