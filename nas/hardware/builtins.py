"""Registers the targets that ship with nas."""

from __future__ import annotations

from typing import Any

from nas.hardware.target import Target, register_target


# Each target imports its runtime (torch, onnxruntime, CUDA) only when chosen, so the names
# are listed without it.
def _cpu(**options: Any) -> Target:
    from nas.hardware.cpu import CpuTarget

    return CpuTarget(**options)


def _onnxruntime(**options: Any) -> Target:
    from nas.hardware.ort import OnnxRuntimeTarget

    return OnnxRuntimeTarget(**options)


def _cuda(**options: Any) -> Target:
    from nas.hardware.cuda import CudaTarget

    return CudaTarget(**options)


def _remote(**options: Any) -> Target:
    from nas.hardware.remote import RemoteTarget

    return RemoteTarget(**options)


register_target("cpu", _cpu)
register_target("onnxruntime", _onnxruntime)
register_target("cuda", _cuda)
register_target("remote", _remote)
