"""Global chain spaces (MobileNetV2 / ProxylessNAS / Once-for-All style).

A chain space is a stem, then stages of blocks with a fixed output width and stride, then a
head. Per stage a *depth* is chosen; per layer the block's own choices (for ``mbconv``: kernel
size and expansion ratio). Layers beyond the chosen depth are inactive and drop out of the
canonical architecture, so two parameter sets that build the same network hash the same.

A stage may also give its width as a list of options (``channels: [8, 16, 24]``): its
output width is then a choice too (elastic width, as in Once-for-All and ProxylessNAS), and
the supernet slices its blocks' channels to the chosen width.

Instead of ``layer_choices`` (kernel x expansion per layer) a space may list the operations
a layer may be, ``layer_ops`` (NAS-Bench-Macro, Su et al., CVPR 2021: identity, MBConv k3 e3,
MBConv k5 e6): the per-layer choice is then one label ``op`` whose values name the operations
(``identity``, ``k3e3``, ...). An identity layer passes its input on, through a 1x1 conv and
BatchNorm where it changes stride or width (NAS-Bench-Macro's convention); since it makes
depth a choice already, such spaces have one depth and one width per stage, and the one-line
form is NAS-Bench-Macro's code: one digit per layer, the operation's index in ``layer_ops``.

Labels: ``stage{i}.depth``, ``stage{i}.width`` (elastic stages only) and
``stage{i}.layer{j}.{choice}``, counted from 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nas.errors import ArchitectureError
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
MAX_LAYER_OPS = 10  # one digit each in the one-line form


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


class MBConvOpModel(_Strict):
    """One MBConv operation of ``layer_ops``: its kernel size and expansion ratio."""

    kernel: PositiveInt
    expand: PositiveInt

    @property
    def name(self) -> str:
        return f"k{self.kernel}e{self.expand}"


def op_name(op: MBConvOpModel | str) -> str:
    """An operation's value in an architecture (``identity``, ``k3e3``)."""
    return op if isinstance(op, str) else op.name


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
    layer_choices: dict[str, list[PositiveInt]] | None = Field(
        default=None, description="per layer, each block choice's options (their product)"
    )
    layer_ops: list[Literal["identity"] | MBConvOpModel] | None = Field(
        default=None,
        description="instead of layer_choices: the operations a layer may be (identity or MBConv)",
    )
    head_channels: Channels | None = None
    activation: Literal["relu6", "relu"] = "relu6"

    # Fields added after spaces were first hashed: left out of the digest at their default,
    # so a file that does not use them keeps its digest (and its studies and lookup tables).
    LATER_FIELDS: ClassVar[tuple[str, ...]] = ("layer_ops", "activation")

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
        cls, v: dict[str, list[int]] | None, info: ValidationInfo
    ) -> dict[str, list[int]] | None:
        if v is None:
            return v
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

    @field_validator("layer_ops")
    @classmethod
    def _check_layer_ops(
        cls, v: list[str | MBConvOpModel] | None
    ) -> list[str | MBConvOpModel] | None:
        if v is None:
            return v
        names = [op_name(op) for op in v]
        if not 1 <= len(v) <= MAX_LAYER_OPS or len(set(names)) != len(names):
            raise ValueError(f"must be 1..{MAX_LAYER_OPS} distinct operations, got {names}")
        allowed = BLOCK_LAYER_CHOICES["mbconv"]
        for op in v:
            if isinstance(op, MBConvOpModel) and (
                op.kernel not in allowed["kernel"] or op.expand not in allowed["expand"]
            ):
                raise ValueError(
                    f"{op.name}: kernel must be one of {list(allowed['kernel'])} and expand "
                    f"one of {list(allowed['expand'])}"
                )
        return v

    def kernels(self) -> list[int]:
        """Every kernel size a layer may have."""
        if self.layer_ops is not None:
            return [op.kernel for op in self.layer_ops if isinstance(op, MBConvOpModel)] or [1]
        assert self.layer_choices is not None
        return list(self.layer_choices["kernel"])

    @model_validator(mode="after")
    def _check_channels(self) -> ChainSpaceModel:
        if (self.layer_choices is None) == (self.layer_ops is None):
            raise ValueError("give exactly one of layer_choices and layer_ops")
        if self.layer_ops is not None:
            for i, stage in enumerate(self.stages):
                if isinstance(stage.channels, list) or len(stage.depth or self.depth) > 1:
                    raise ValueError(
                        f"stage {i}: with layer_ops (identity makes depth a choice already) "
                        "every stage has one width and one depth"
                    )
        k = max(self.kernels())
        min_map = k // 2 + 1
        if self.train_resolution < min_map:
            raise ValueError(
                f"train_resolution {self.train_resolution} is below {min_map}: on a smaller "
                f"map a {k}x{k} kernel sees only padding"
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
        self.activation: str = model.activation
        # layer_ops spaces: each operation's name -> its layer dict ({} for identity)
        self.ops: dict[str, dict[str, int]] | None = (
            None
            if model.layer_ops is None
            else {
                op_name(op): {}
                if isinstance(op, str)
                else {"kernel": op.kernel, "expand": op.expand}
                for op in model.layer_ops
            }
        )
        # the strides the network really runs at for its scoring resolution (see adapt_strides)
        self.min_map = max(model.kernels()) // 2 + 1
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
        per_layer: dict[str, tuple[Value, ...]] = (
            {"op": tuple(self.ops)}
            if self.ops is not None
            else {k: tuple(v) for k, v in (model.layer_choices or {}).items()}
        )
        self.layer_options = per_layer  # each per-layer label's options
        self.layer_keys = tuple(per_layer)
        choices: list[Choice] = []
        for i, stage in enumerate(self.stages):
            choices.append(Choice(f"stage{i}.depth", stage.depth_options))
            if stage.elastic_width:
                choices.append(Choice(f"stage{i}.width", stage.width_options))
            for j in range(stage.max_depth):
                for key in self.layer_keys:
                    choices.append(Choice(f"stage{i}.layer{j}.{key}", per_layer[key]))
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
        """Per stage, the active layers' choices: ``[[{"kernel": 3, "expand": 6}, ...], ...]``;
        an identity layer (``layer_ops`` spaces) is ``{}``: no block."""
        canon = self.canonical(arch)
        out: list[list[dict[str, int]]] = []
        for i in range(len(self.stages)):
            depth = int(canon[f"stage{i}.depth"])
            if self.ops is not None:
                ops = self.ops
                out.append([dict(ops[str(canon[f"stage{i}.layer{j}.op"])]) for j in range(depth)])
                continue
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
        # elastic stage starts with its width ("w16: k3e6 k5e4 | ..."). A layer_ops space:
        # NAS-Bench-Macro's code, one digit per layer ("01201201"), its tables' key.
        if self.ops is not None:
            index = {name: str(n) for n, name in enumerate(self.ops)}
            canon = self.canonical(arch)
            return "".join(index[str(canon[label])] for label in canon if label.endswith(".op"))

        def token(layer: dict[str, int]) -> str:
            return "".join(f"{key[0]}{layer[key]}" for key in self.layer_keys)

        groups = []
        for stage, width, st in zip(
            self.stages, self.widths(arch), self.layers(arch), strict=True
        ):
            text = " ".join(token(layer) for layer in st)
            groups.append(f"w{width}: {text}" if stage.elastic_width else text)
        return " | ".join(groups)

    def parse_key(self, text: str) -> dict[str, Value] | None:
        # only a layer_ops space's one-digit-per-layer code has a parser (NAS-Bench-Macro's key)
        return self.from_code(text) if self.ops is not None else None

    def from_code(self, code: str) -> dict[str, Value]:
        """The architecture whose one-line form is ``code`` (``layer_ops`` spaces: one digit per
        layer, NAS-Bench-Macro's key ``01201201``); the inverse of :meth:`describe`.

        Raises:
            ArchitectureError: not a ``layer_ops`` space, or not one valid digit per layer.
        """
        ops = list(self.ops or ())
        labels = [c.label for c in self.choices if c.label.endswith(".op")]
        if (
            not ops
            or len(code) != len(labels)
            or not all(ch.isdigit() and int(ch) < len(ops) for ch in code)
        ):
            raise ArchitectureError(
                f"{code[:40]!r} is not an architecture code of space {self.name!r} "
                f"({len(labels)} digits, each 0..{len(ops) - 1})"
            )
        arch: dict[str, Value] = {
            f"stage{i}.depth": st.depth_options[0] for i, st in enumerate(self.stages)
        }
        arch.update({label: ops[int(ch)] for label, ch in zip(labels, code, strict=True)})
        return self.canonical(arch)

    def size(self) -> int:
        per_layer = math.prod(len(v) for v in self.layer_options.values())
        return math.prod(
            len(st.width_options) * sum(per_layer**d for d in st.depth_options)
            for st in self.stages
        )

    def _rank(self, value: Value) -> tuple[int, ...]:
        """How large a choice's value makes the network: the value itself, or for an operation
        of ``layer_ops`` its (expansion, kernel), identity the smallest."""
        if self.ops is not None and isinstance(value, str):
            layer = self.ops[value]
            return (layer.get("expand", 0), layer.get("kernel", 0))
        return (int(value),)

    def largest(self) -> dict[str, Value]:
        """The architecture with every choice at its largest value (sandwich rule)."""
        return self.canonical({c.label: max(c.options, key=self._rank) for c in self.choices})

    def smallest(self) -> dict[str, Value]:
        """The architecture with every choice at its smallest value (sandwich rule)."""
        return self.canonical({c.label: min(c.options, key=self._rank) for c in self.choices})

    def anchors(self) -> list[dict[str, Value]]:
        return [self.largest(), self.smallest()]
