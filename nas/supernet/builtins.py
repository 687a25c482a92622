"""Registers the supernet families that ship with nas."""

from __future__ import annotations

from typing import cast

from nas.spaces import ChainSpace, DartsSpace, Nb201Space, ResnetSpace
from nas.supernet.base import register_supernet
from nas.supernet.chain import ChainSupernet, build_chain_net
from nas.supernet.darts_cells import DartsSupernet, build_darts_net
from nas.supernet.nb201 import Nb201Supernet, build_nb201_net
from nas.supernet.resnet import ResnetSupernet, build_resnet_net

register_supernet(
    "chain/mbconv",
    lambda space, n: ChainSupernet(cast(ChainSpace, space), n),
    lambda space, arch, n: build_chain_net(cast(ChainSpace, space), arch, n),
)

register_supernet(
    "nb201",
    lambda space, n: Nb201Supernet(cast(Nb201Space, space), n),
    lambda space, arch, n: build_nb201_net(cast(Nb201Space, space), arch, n),
)
register_supernet(
    "darts",
    lambda space, n: DartsSupernet(cast(DartsSpace, space), n),
    lambda space, arch, n: build_darts_net(cast(DartsSpace, space), arch, n),
)
register_supernet(
    "resnet",
    lambda space, n: ResnetSupernet(cast(ResnetSpace, space), n),
    lambda space, arch, n: build_resnet_net(cast(ResnetSpace, space), arch, n),
)
