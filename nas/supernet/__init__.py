"""Weight-sharing supernets (torch): elastic blocks, training, BN recalibration, extraction."""

from __future__ import annotations

from nas.supernet.base import Supernet, create_subnet, create_supernet, register_supernet

__all__ = ["Supernet", "create_subnet", "create_supernet", "register_supernet"]
