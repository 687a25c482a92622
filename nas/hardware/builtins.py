"""Registers the targets that ship with nas."""

from __future__ import annotations

from nas.hardware.cpu import CpuTarget
from nas.hardware.target import register_target

register_target("cpu", CpuTarget)
