"""Search spaces: declarative files, architectures as flat dicts, sampling and hashing.

No torch here; Optuna appears only in :mod:`nas.spaces.optuna_adapter`.
"""

from __future__ import annotations

from nas.spaces.base import (
    Arch,
    CellSpace,
    Choice,
    LatencyInput,
    Space,
    arch_hash,
    canonical_json,
)
from nas.spaces.chain import ChainSpace
from nas.spaces.darts import DartsSpace
from nas.spaces.loader import builtin_names, load_space, register_kind, space_from_dict
from nas.spaces.nb201 import Nb201Space
from nas.spaces.resnet import ResnetSpace

__all__ = [
    "Arch",
    "CellSpace",
    "ChainSpace",
    "Choice",
    "DartsSpace",
    "LatencyInput",
    "Nb201Space",
    "ResnetSpace",
    "Space",
    "arch_hash",
    "builtin_names",
    "canonical_json",
    "load_space",
    "register_kind",
    "space_from_dict",
]
