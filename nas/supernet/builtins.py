"""Registers the supernet families that ship with nas."""

from __future__ import annotations

from typing import cast

from nas.spaces import ChainSpace
from nas.supernet.base import register_supernet
from nas.supernet.chain import ChainSupernet, build_chain_net

register_supernet(
    "chain/mbconv",
    lambda space, n: ChainSupernet(cast(ChainSpace, space), n),
    lambda space, arch, n: build_chain_net(cast(ChainSpace, space), arch, n),
)
