"""nas: hardware-aware neural architecture search.

The pieces (see ``STYLE.md``): ``nas.spaces`` says what can be chosen, ``nas.strategies`` which
sample to try, ``nas.supernet`` scores samples with inherited weights, ``nas.hardware`` measures
latency, ``nas.storage`` keeps everything in an Optuna database.
"""

from __future__ import annotations

__version__ = "0.1.0"
