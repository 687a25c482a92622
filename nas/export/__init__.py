"""Artifacts of a chosen architecture and the compression hand-off.

``nas export`` writes an export folder (see :mod:`nas.export.files` for its files),
:func:`nas.load` rebuilds the network from one, and ``nas compress`` prunes, fine-tunes and
quantises it into another folder of the same format.
"""

from __future__ import annotations
