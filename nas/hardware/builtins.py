"""Registers the targets that ship with nas."""

from __future__ import annotations

from typing import Any

from nas.hardware.cpu import CpuTarget
from nas.hardware.target import Target, register_target

register_target("cpu", CpuTarget)


# The other targets import their runtimes (onnxruntime, CUDA) only when chosen.
def _onnxruntime(**options: Any) -> Target:
    from nas.hardware.ort import OnnxRuntimeTarget

    return OnnxRuntimeTarget(**options)


def _cuda(**options: Any) -> Target:
    from nas.hardware.cuda import CudaTarget

    return CudaTarget(**options)


def _remote(**options: Any) -> Target:
    from nas.hardware.remote import RemoteTarget

    return RemoteTarget(**options)


register_target("onnxruntime", _onnxruntime)
register_target("cuda", _cuda)
register_target("remote", _remote)
