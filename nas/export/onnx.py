"""ONNX and TorchScript serialisation of a standalone network.

ONNX uses torch's TorchScript-based exporter (``dynamo=False``). On torch 2.13 both exporters
work for these networks; this one takes about a second where the ``torch.export``-based one
takes ten, and it writes identical bytes on every run (checked across processes), which the
byte-stable export needs. It is deprecated upstream; torch is pinned, and switching is one
argument. In eval mode it folds BatchNorm into the convolutions.

The batch, height and width axes are dynamic: the same file runs at the training resolution
(accuracy) and at the deployment shape (latency).
"""

from __future__ import annotations

import io
import warnings

from torch import nn

from nas.hardware.onnx_export import INPUT_NAME, to_onnx_bytes

INPUT, OUTPUT = INPUT_NAME, "logits"


def onnx_bytes(module: nn.Module, input_shape: tuple[int, ...]) -> bytes:
    """The ONNX model of ``module`` (eval mode) traced at ``input_shape``, checked.

    The same exporter as the ONNX Runtime targets use, with height and width dynamic too and
    no fallback to the (non-deterministic) ``torch.export`` path.
    """
    import onnx

    data = to_onnx_bytes(
        module, input_shape, output_name=OUTPUT, dynamic_spatial=True, allow_fallback=False
    )
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def torchscript_bytes(module: nn.Module, input_shape: tuple[int, ...]) -> bytes:
    """TorchScript of ``module`` by tracing (the networks have no data-dependent control flow).

    ``torch.jit`` still works on torch 2.13 (deprecated in favour of ``torch.export``). The
    archive holds no timestamps, but TorchScript names a class ``___torch_mangle_N`` when the
    process's compilation unit already holds one of that name, so a second export in the
    same process would differ. Tracing into a fresh compilation unit (a private but
    long-standing hook, swapped back afterwards) gives equal bytes for equal modules.
    """
    import threading

    result: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_trace_and_save(module, input_shape))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    # The archive's debug info records the Python stack of the trace call; a thread of its
    # own gives the same stack whoever calls this.
    thread = threading.Thread(target=work, name="nas-torchscript")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _trace_and_save(module: nn.Module, input_shape: tuple[int, ...]) -> bytes:
    import torch

    module.eval()
    state = getattr(torch.jit, "_state", None)
    rec = getattr(torch.jit, "_recursive", None)
    fresh = hasattr(state, "_python_cu") and hasattr(rec, "concrete_type_store")
    if fresh:
        saved = state._python_cu, rec.concrete_type_store  # type: ignore[union-attr]
        state._python_cu = torch._C.CompilationUnit()  # type: ignore[union-attr]
        rec.concrete_type_store = rec.ConcreteTypeStore()  # type: ignore[union-attr]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, torch.zeros(*input_shape))
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
    finally:
        if fresh:
            state._python_cu, rec.concrete_type_store = saved  # type: ignore[union-attr]
    return buf.getvalue()
