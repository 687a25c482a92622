"""int8 post-training static quantization of an ONNX model with ONNX Runtime's quantizer.

Static: activation ranges are calibrated once on training batches (MinMax), weights are
quantised per output channel, and the model is written in QDQ form, which ONNX Runtime's CPU
provider fuses into integer kernels. PyTorch's ``torch.ao`` quantization is deprecated in
favour of torchao, and quantising the ONNX file keeps the deployable artifact the one that is
measured.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from nas.export.files import write_bytes
from nas.export.onnx import INPUT

log = logging.getLogger(__name__)


def quantize_int8(src: Path, dst: Path, calib: list[np.ndarray]) -> None:
    """Write the int8 model of ``src`` to ``dst``, calibrated on the batches ``calib``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.it, None)
            return None if batch is None else {INPUT: batch.astype(np.float32)}

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        out = Path(tmp) / "int8.onnx"
        # Graph clean-up and ONNX's shape inference first, as ONNX Runtime recommends, inside
        # this temporary folder. Not its symbolic shape inference: on graphs it cannot finish
        # (the NAS-Bench-201 cells' zero nodes) it saves ``sym_shape_infer_temp.onnx`` and a
        # ``<uuid>.data`` into the current directory before raising (onnxruntime 1.32), and
        # on the graphs it does finish (mobile, resnet) the int8 model is the same node for
        # node, with the same outputs, as with ONNX's inference alone.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )
        write_bytes(dst, out.read_bytes())
    log.info("wrote int8 model %s", dst)
