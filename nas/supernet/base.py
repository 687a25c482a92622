"""The supernet plug-in interface and its registry.

A supernet holds the weights of every architecture in a space. It runs any architecture
(``forward(x, arch)``), turns one into an ordinary module with copied weights (``extract``), and
``create_subnet`` builds the same module from the architecture alone. New space kinds register a
builder with :func:`register_supernet`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

import torch
from torch import nn

from nas.spaces import Space
from nas.spaces.base import Value


class Supernet(nn.Module, ABC):
    """Weight-sharing network for a space; ``arch`` is always a canonical architecture."""

    def __init__(self, space: Space, num_classes: int) -> None:
        super().__init__()
        self.space = space
        self.num_classes = num_classes

    @abstractmethod
    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        """Logits of the path ``arch``: ``(B, C, H, W) -> (B, num_classes)``."""

    @abstractmethod
    def extract(self, arch: Mapping[str, Value]) -> nn.Module:
        """A standalone module computing the same function as ``forward(., arch)``."""


SupernetBuilder = Callable[[Space, int], Supernet]
SubnetBuilder = Callable[[Space, Mapping[str, Value], int], nn.Module]
_REGISTRY: dict[str, tuple[SupernetBuilder, SubnetBuilder]] = {}


def register_supernet(key: str, supernet: SupernetBuilder, subnet: SubnetBuilder) -> None:
    """Register builders for spaces whose :func:`family` is ``key``."""
    _REGISTRY[key] = (supernet, subnet)


def family(space: Space) -> str:
    """Registry key of a space: its kind plus block type where it has one (``chain/mbconv``)."""
    block = getattr(space, "block", None)
    return f"{space.kind}/{block}" if block else space.kind


def _lookup(space: Space) -> tuple[SupernetBuilder, SubnetBuilder]:
    from nas.supernet import builtins  # noqa: F401  (registers the built-in families)

    key = family(space)
    if key not in _REGISTRY:
        raise KeyError(f"no supernet registered for space family {key!r}")
    return _REGISTRY[key]


def create_supernet(space: Space, num_classes: int) -> Supernet:
    """The supernet for ``space`` with a classifier of ``num_classes`` outputs."""
    return _lookup(space)[0](space, num_classes)


def create_subnet(space: Space, arch: Mapping[str, Value], num_classes: int) -> nn.Module:
    """A freshly initialised standalone network for ``arch`` (e.g. to load exported weights)."""
    return _lookup(space)[1](space, space.canonical(arch), num_classes)
