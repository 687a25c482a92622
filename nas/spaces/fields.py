"""Field types shared by the space file formats, each bounded by a cap of :mod:`nas.limits`.

A space file comes from outside: every size in it is capped here, so an absurd file
(``head_channels: 1000000000``, ``train_resolution: 100000``, ten thousand stages) is refused
with one line when it is loaded, not when the supernet tries to allocate it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nas.limits import (
    MAX_CHANNELS,
    MAX_DEPTH,
    MAX_LATENCY_BATCH,
    MAX_OPTIONS,
    MAX_RESOLUTION,
    MAX_STAGES,
)

PositiveInt = Annotated[int, Field(gt=0)]  # a version number: no size hangs on it
Channels = Annotated[int, Field(gt=0, le=MAX_CHANNELS)]
Resolution = Annotated[int, Field(gt=0, le=MAX_RESOLUTION)]
Depth = Annotated[int, Field(gt=0, le=MAX_DEPTH)]
LatencyBatch = Annotated[int, Field(gt=0, le=MAX_LATENCY_BATCH)]
StageCount = Annotated[int, Field(gt=0, le=MAX_STAGES)]


def option_list(**kw: object) -> object:
    """A list field of choice values: at least one, at most ``MAX_OPTIONS``."""
    return Field(min_length=1, max_length=MAX_OPTIONS, **kw)  # type: ignore[call-overload]


def stage_list(**kw: object) -> object:
    """The list of stages: at least one, at most ``MAX_STAGES``."""
    return Field(min_length=1, max_length=MAX_STAGES, **kw)  # type: ignore[call-overload]
