"""The ``darts`` strategy entry: differentiable search on a cell space (nb201, darts).

DARTS (Liu et al., ICLR 2019) is not an Optuna sampler; its strategy names the ``gradient``
driver, which :mod:`nas.search.darts` implements (search epochs recorded as ordinary trials).
"""

from __future__ import annotations

from nas.strategies.base import Strategy, register_strategy

NAME = "darts"

register_strategy(
    Strategy(
        NAME,
        None,  # gradient-driven: nas.search.darts drives it
        "DARTS differentiable search on a cell space (nb201, darts); budget = search epochs",
        driver="gradient",
        budget_unit="search epochs, one trial each",
        # as many epochs as the default supernet training of the sampler strategies
        default_budget=20,
    )
)
