"""nas: hardware-aware neural architecture search.

The pieces (see docs/CONTRIBUTING.md): ``nas.spaces`` says what can be chosen,
``nas.strategies`` which sample to try, ``nas.supernet`` scores samples with inherited weights,
``nas.hardware`` measures latency, ``nas.storage`` keeps everything in an Optuna database.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from nas.version import __version__

__all__ = ["__version__", "load"]


def load(directory: str | os.PathLike[str]) -> torch.nn.Module:
    """Rebuild the network of a ``nas export`` folder from its architecture.json and weights.

    No supernet and no study database are needed; torch is imported only now.

    Raises:
        nas.errors.NasInputError: not an export folder, or weights that do not fit.
    """
    from nas.export.artifacts import load as _load

    return _load(directory)
