"""Export a standalone module to ONNX bytes (for ONNX Runtime targets and the device agent).

torch 2.13 ships two exporters. The TorchScript-based one (``dynamo=False``) exports a mobile
network in about two seconds; the ``torch.export``-based one takes about ten times as long for
the same graph, which matters when a search exports every candidate. So the TorchScript
exporter is used first and ``torch.export`` is the fallback where the first one is missing.
The batch axis is dynamic, so one file serves every batch size.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

from nas.errors import OptionError

log = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 17


def to_onnx_bytes(
    module: object,
    input_shape: tuple[int, ...],
    *,
    output_name: str = OUTPUT_NAME,
    dynamic_spatial: bool = False,
    allow_fallback: bool = True,
) -> bytes:
    """The ONNX model (serialized ``ModelProto``) of ``module`` in eval mode.

    Args:
        module: an ``nn.Module`` taking one tensor of ``input_shape``.
        input_shape: ``(batch, ...)``; the batch axis is exported as dynamic ``batch``.
        output_name: name of the graph's output.
        dynamic_spatial: also make axes 2 and 3 (height, width) dynamic.
        allow_fallback: use ``torch.export`` when the TorchScript exporter fails; exports that
            must be byte-stable pass False and get the first exporter's error instead.

    Raises:
        OptionError: the input shape is empty or not positive.
    """
    import torch

    if not input_shape or any(int(d) < 1 for d in input_shape):
        raise OptionError(f"ONNX export needs a positive input shape, got {input_shape}")
    assert isinstance(module, torch.nn.Module)
    module.eval()
    x = torch.zeros(*input_shape)
    input_axes = {0: "batch", 2: "height", 3: "width"} if dynamic_spatial else {0: "batch"}
    with warnings.catch_warnings():
        # Both exporters warn about their own future; nothing the user can act on.
        warnings.simplefilter("ignore")
        try:
            buf = io.BytesIO()
            torch.onnx.export(
                module,
                (x,),
                buf,  # type: ignore[arg-type]  # a file object works; the stub says path
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[output_name],
                dynamic_axes={INPUT_NAME: input_axes, output_name: {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
            )
            return buf.getvalue()
        except (TypeError, ValueError, RuntimeError) as exc:  # legacy exporter removed/failed
            if not allow_fallback:
                raise
            log.info("TorchScript ONNX export failed (%s); using torch.export", exc)
        return _torch_export_bytes(module, x, output_name)


def _torch_export_bytes(module: Any, x: Any, output_name: str) -> bytes:
    """The ``torch.export``-based exporter's model, batch axis dynamic (the slow fallback)."""
    import torch

    program = torch.onnx.export(
        module,
        (x,),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[output_name],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        verbose=False,
    )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())
