"""Global chain spaces (MobileNetV2 / ProxylessNAS / Once-for-All style).

A chain space is a stem, then stages of blocks with a fixed output width and stride, then a
head. Per stage a *depth* is chosen; per layer the block's own choices (for ``mbconv``: kernel
size and expansion ratio). Layers beyond the chosen depth are inactive and drop out of the
canonical architecture, so two parameter sets that build the same network hash the same.

A stage may also give its width as a list of options (``channels: [8, 16, 24]``): its
output width is then a choice too (elastic width, as in Once-for-All and ProxylessNAS), and
the supernet slices its blocks' channels to the chosen width.

Labels: ``stage{i}.depth``, ``stage{i}.width`` (elastic stages only) and
``stage{i}.layer{j}.{choice}``, counted from 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nas.spaces.base import Choice, Space, Value
from nas.spaces.fields import (
    Channels,
    Depth,
    LatencyBatch,
    PositiveInt,
    Resolution,
    option_list,
    stage_list,
)

# The choices each block family needs per layer, and the values its supernet can build.
BLOCK_LAYER_CHOICES: dict[str, dict[str, tuple[int, ...]]] = {
    "mbconv": {"kernel": (1, 3, 5, 7, 9), "expand": (1, 2, 3, 4, 5, 6, 8)},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencyInputModel(_Strict):
    batch: LatencyBatch = 1
    channels: Channels
    height: Resolution
    width: Resolution


class StemModel(_Strict):
    channels: Channels
    kernel: Literal[3, 5, 7] = 3
    stride: Literal[1, 2] = 2


class StageModel(_Strict):
    channels: Channels | list[Channels] = Field(
        description="the stage's output width, or its options (elastic width)"
    )
    stride: Literal[1, 2]
    depth: list[Depth] | None = option_list(
        default=None, description="depth options for this stage; defaults to the space's `depth`"
    )


class ChainSpaceModel(_Strict):
    """The file format of a chain space (see ``search_spaces/mobile.yaml``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: PositiveInt = 1
    kind: Literal["chain"]
    block: Literal["mbconv"]
    description: str = ""
    input_channels: Channels = 3
    train_resolution: Resolution
    latency_input: LatencyInputModel | None = Field(
        default=None,
        description="latency shape; by default the scoring shape (1, channels, r, r)",
    )
    stem: StemModel
    first_block_channels: Channels | None = Field(
        default=None,
        description="fixed MBConv (expand 1, kernel 3) after the stem, as MobileNetV2",
    )
    stages: list[StageModel] = stage_list()
    depth: list[Depth] = option_list()
    layer_choices: dict[str, list[PositiveInt]]
    head_channels: Channels | None = None

    @field_validator("stages")
    @classmethod
    def _width_options(cls, v: list[StageModel]) -> list[StageModel]:
        from nas.limits import MAX_OPTIONS

        for i, stage in enumerate(v):
            if isinstance(stage.channels, list):
                w = stage.channels
                if not w or len(w) > MAX_OPTIONS or len(set(w)) != len(w):
                    raise ValueError(
                        f"stage {i}: width options must be 1..{MAX_OPTIONS} distinct values, "
                        f"got {w}"
                    )
        return v

    @field_validator("depth")
    @classmethod
    def _sorted_unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"options must be distinct, got {v}")
        return v

    @field_validator("layer_choices")
    @classmethod
    def _check_layer_choices(
        cls, v: dict[str, list[int]], info: ValidationInfo
    ) -> dict[str, list[int]]:
        block = info.data.get("block", "mbconv")
        allowed = BLOCK_LAYER_CHOICES[block]
        if set(v) != set(allowed):
            raise ValueError(
                f"block {block!r} needs exactly the keys {sorted(allowed)}, got {sorted(v)}"
            )
        for key, values in v.items():
            bad = [x for x in values if x not in allowed[key]]
            if bad or not values or len(set(values)) != len(values):
                raise ValueError(
                    f"{key} must be distinct values from {list(allowed[key])}, got {values}"
                )
        return v

    @model_validator(mode="after")
    def _check_channels(self) -> ChainSpaceModel:
        min_map = max(self.layer_choices.get("kernel", [3])) // 2 + 1
        if self.train_resolution < min_map:
            raise ValueError(
                f"train_resolution {self.train_resolution} is below {min_map}: on a smaller "
                f"map a {max(self.layer_choices['kernel'])}x"
                f"{max(self.layer_choices['kernel'])} kernel sees only padding"
            )
        if self.latency_input is not None and self.latency_input.channels != self.input_channels:
            raise ValueError(
                f"latency_input.channels ({self.latency_input.channels}) must equal "
                f"input_channels ({self.input_channels})"
            )
        return self


def adapt_strides(strides: list[int], resolution: int, min_map: int) -> list[int]:
    """The strides a chain runs at for ``resolution``-pixel inputs.

    Every downsampling the file asks for is kept while the last map stays at least
    ``min_map`` pixels a side; past that, the *latest* stride-2 layers become stride 1, so the
    early layers still downsample (cheap, as at full size) and the late, wide stages run on a
    map where every kernel choice matters. ``min_map`` is the smallest map on which the
    largest kernel choice sees more than zero padding (``k // 2 + 1``), so at the scoring
    resolution every kernel choice changes the network's function. (The CIFAR variants of
    MobileNetV2 and ProxylessNAS drop the *early* strides instead; that keeps more pixels in
    the early stages and costs several times the compute, which a 5-minute default search on
    two cores cannot pay.)
    """
    out = list(strides)

    def last_map() -> int:
        n = resolution
        for st in out:
            n = -(-n // st)  # a 'same'-padded conv of stride st: ceil(n / st)
        return n

    for i in reversed(range(len(out))):
        if last_map() >= min_map:
            break
        if out[i] == 2:
            out[i] = 1
    return out


@dataclass(frozen=True)
class StageSpec:
    """One stage as the supernet builds it."""

    width_options: tuple[int, ...]
    stride: int
    depth_options: tuple[int, ...]

    @property
    def channels(self) -> int:
        """The widest output: what the supernet's weights are sized for."""
        return max(self.width_options)

    @property
    def elastic_width(self) -> bool:
        return len(self.width_options) > 1

    @property
    def max_depth(self) -> int:
        return max(self.depth_options)


class ChainSpace(Space):
    """A chain space loaded from a validated :class:`ChainSpaceModel`."""

    kind = "chain"

    def __init__(self, model: ChainSpaceModel) -> None:
        self._load_common(model)
        self.block = model.block
        # the strides the network really runs at for its scoring resolution (see adapt_strides)
        self.min_map = max(model.layer_choices["kernel"]) // 2 + 1
        strides = adapt_strides(
            [model.stem.stride, *(s.stride for s in model.stages)],
            model.train_resolution,
            self.min_map,
        )
        self.stem_stride = strides[0]
        self.stages = tuple(
            StageSpec(
                tuple(s.channels) if isinstance(s.channels, list) else (s.channels,),
                st,
                tuple(s.depth or model.depth),
            )
            for s, st in zip(model.stages, strides[1:], strict=True)
        )
        self.layer_keys = tuple(model.layer_choices)
        choices: list[Choice] = []
        for i, stage in enumerate(self.stages):
            choices.append(Choice(f"stage{i}.depth", stage.depth_options))
            if stage.elastic_width:
                choices.append(Choice(f"stage{i}.width", stage.width_options))
            for j in range(stage.max_depth):
                for key in self.layer_keys:
                    choices.append(
                        Choice(f"stage{i}.layer{j}.{key}", tuple(model.layer_choices[key]))
                    )
        self.choices = tuple(choices)

    def active_labels(self, arch: Mapping[str, Value]) -> list[str]:
        labels: list[str] = []
        for i, stage in enumerate(self.stages):
            label = f"stage{i}.depth"
            labels.append(label)
            if stage.elastic_width:
                labels.append(f"stage{i}.width")
            depth = arch.get(label)
            n = depth if isinstance(depth, int) and depth in stage.depth_options else 0
            for j in range(n):
                labels.extend(f"stage{i}.layer{j}.{key}" for key in self.layer_keys)
        return labels

    def layers(self, arch: Mapping[str, Value]) -> list[list[dict[str, int]]]:
        """Per stage, the active layers' choices: ``[[{"kernel": 3, "expand": 6}, ...], ...]``."""
        canon = self.canonical(arch)
        out: list[list[dict[str, int]]] = []
        for i in range(len(self.stages)):
            depth = int(canon[f"stage{i}.depth"])
            out.append(
                [
                    {key: int(canon[f"stage{i}.layer{j}.{key}"]) for key in self.layer_keys}
                    for j in range(depth)
                ]
            )
        return out

    def widths(self, arch: Mapping[str, Value]) -> list[int]:
        """Each stage's output width in ``arch`` (the fixed width where it is not a choice)."""
        canon = self.canonical(arch)
        return [
            int(canon[f"stage{i}.width"]) if st.elastic_width else st.channels
            for i, st in enumerate(self.stages)
        ]

    def describe(self, arch: Mapping[str, Value]) -> str:
        # "k3e6 k5e4 | k7e3 k3e3 k3e3 | ..." : one group per stage, one token per layer; an
        # elastic stage starts with its width ("w16: k3e6 k5e4 | ...").
        def token(layer: dict[str, int]) -> str:
            return "".join(f"{key[0]}{layer[key]}" for key in self.layer_keys)

        groups = []
        for stage, width, st in zip(
            self.stages, self.widths(arch), self.layers(arch), strict=True
        ):
            text = " ".join(token(layer) for layer in st)
            groups.append(f"w{width}: {text}" if stage.elastic_width else text)
        return " | ".join(groups)

    def size(self) -> int:
        per_layer = math.prod(len(self.model.layer_choices[k]) for k in self.layer_keys)
        return math.prod(
            len(st.width_options) * sum(per_layer**d for d in st.depth_options)
            for st in self.stages
        )

    def largest(self) -> dict[str, Value]:
        """The architecture with every choice at its largest value (sandwich rule)."""
        return self.canonical({c.label: max(c.options) for c in self.choices})  # type: ignore[type-var]

    def smallest(self) -> dict[str, Value]:
        """The architecture with every choice at its smallest value (sandwich rule)."""
        return self.canonical({c.label: min(c.options) for c in self.choices})  # type: ignore[type-var]

    def anchors(self) -> list[dict[str, Value]]:
        return [self.largest(), self.smallest()]
