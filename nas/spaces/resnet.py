"""A global ResNet space: per stage depth, width, kernel size and block type.

A stem, then stages of residual blocks (He et al., "Deep Residual Learning", CVPR 2016), then
global pooling and a classifier. Each stage chooses how many blocks it has, their output
width, the kernel size of their spatial convolutions and whether they are ``basic`` (two kxk
convolutions) or ``bottleneck`` (1x1 down to width/4, kxk, 1x1 up) blocks. The first block of
a stage carries the stage's stride and a projection shortcut; the others add their input.

This is a separate space kind rather than another ``chain`` block because its choices are per
stage (width among them) while ``chain`` spaces fix each stage's width and choose per layer.

Labels: ``stage{i}.depth``, ``stage{i}.width``, ``stage{i}.kernel``, ``stage{i}.block``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas.spaces.base import Arch, Choice, Space, Value
from nas.spaces.chain import LatencyInputModel
from nas.spaces.fields import Channels, Depth, PositiveInt, Resolution, option_list, stage_list

BLOCK_TYPES = ("basic", "bottleneck")
BOTTLENECK_REDUCTION = 4  # a bottleneck's inner width is width / 4, as in ResNet-50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _distinct(v: list[int]) -> list[int]:
    if len(set(v)) != len(v):
        raise ValueError(f"options must be distinct, got {v}")
    return v


class ResnetStemModel(_Strict):
    channels: Channels
    stride: Literal[1, 2] = 1


class ResnetStageModel(_Strict):
    stride: Literal[1, 2]
    depth: list[Depth] = option_list()
    width: list[Channels] = option_list()

    _check_depth = field_validator("depth")(_distinct)
    _check_width = field_validator("width")(_distinct)


class ResnetSpaceModel(_Strict):
    """The file format of a ResNet space (see ``search_spaces/resnet.yaml``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: PositiveInt = 1
    kind: Literal["resnet"]
    description: str = ""
    input_channels: Channels = 3
    train_resolution: Resolution
    latency_input: LatencyInputModel | None = Field(
        default=None,
        description="latency shape; by default the scoring shape (1, channels, r, r)",
    )
    stem: ResnetStemModel
    stages: list[ResnetStageModel] = stage_list()
    kernel: list[Literal[1, 3, 5, 7]] = Field(min_length=1)
    block: list[Literal["basic", "bottleneck"]] = Field(min_length=1)

    @field_validator("kernel", "block")
    @classmethod
    def _distinct_options(cls, v: list) -> list:  # type: ignore[type-arg]
        if len(set(v)) != len(v):
            raise ValueError(f"options must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _check(self) -> ResnetSpaceModel:
        if self.latency_input is not None and self.latency_input.channels != self.input_channels:
            raise ValueError(
                f"latency_input.channels ({self.latency_input.channels}) must equal "
                f"input_channels ({self.input_channels})"
            )
        if "bottleneck" in self.block:
            for i, stage in enumerate(self.stages):
                bad = [w for w in stage.width if w % BOTTLENECK_REDUCTION]
                if bad:
                    raise ValueError(
                        f"stages.{i}.width: bottleneck blocks need widths divisible by "
                        f"{BOTTLENECK_REDUCTION}, got {bad}"
                    )
        return self


@dataclass(frozen=True)
class ResnetStage:
    """One stage's chosen configuration."""

    depth: int
    width: int
    kernel: int
    block: str
    stride: int


class ResnetSpace(Space):
    """A ResNet space loaded from a validated :class:`ResnetSpaceModel`."""

    kind = "resnet"
    # Order of the block types from small to large for the sandwich rule: at equal width a
    # basic block (two kxk convolutions at full width) costs more than a bottleneck.
    _BLOCK_SIZE = {"bottleneck": 0, "basic": 1}

    def __init__(self, model: ResnetSpaceModel) -> None:
        self._load_common(model)
        choices: list[Choice] = []
        for i, stage in enumerate(model.stages):
            choices.append(Choice(f"stage{i}.depth", tuple(stage.depth)))
            choices.append(Choice(f"stage{i}.width", tuple(stage.width)))
            choices.append(Choice(f"stage{i}.kernel", tuple(model.kernel)))
            choices.append(Choice(f"stage{i}.block", tuple(model.block)))
        self.choices = tuple(choices)

    def active_labels(self, arch: Mapping[str, Value]) -> list[str]:
        return [c.label for c in self.choices]

    def stages(self, arch: Mapping[str, Value]) -> list[ResnetStage]:
        canon = self.canonical(arch)
        return [
            ResnetStage(
                int(canon[f"stage{i}.depth"]),
                int(canon[f"stage{i}.width"]),
                int(canon[f"stage{i}.kernel"]),
                str(canon[f"stage{i}.block"]),
                s.stride,
            )
            for i, s in enumerate(self.model.stages)
        ]

    def describe(self, arch: Mapping[str, Value]) -> str:
        # "basic d2 w16 k3 | bottleneck d3 w32 k5 | ...": one group per stage.
        return " | ".join(
            f"{s.block} d{s.depth} w{s.width} k{s.kernel}" for s in self.stages(arch)
        )

    def size(self) -> int:
        per_stage = len(self.model.kernel) * len(self.model.block)
        return math.prod(len(s.depth) * len(s.width) * per_stage for s in self.model.stages)

    def _extreme(self, pick: str) -> Arch:
        fn = max if pick == "max" else min
        arch: dict[str, Value] = {}
        for c in self.choices:
            if c.label.endswith(".block"):
                arch[c.label] = fn(c.options, key=lambda b: self._BLOCK_SIZE[str(b)])
            else:
                arch[c.label] = fn(int(v) for v in c.options)
        return self.canonical(arch)

    def largest(self) -> Arch:
        """Deepest, widest, largest kernels, basic blocks (sandwich rule)."""
        return self._extreme("max")

    def smallest(self) -> Arch:
        """Shallowest, narrowest, smallest kernels, bottleneck blocks (sandwich rule)."""
        return self._extreme("min")

    def anchors(self) -> list[Arch]:
        return [self.largest(), self.smallest()]
