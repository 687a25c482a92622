"""Write an export folder from a network, and rebuild the network from one.

``architecture.json`` holds everything :func:`load` needs besides the weights: the validated
space description itself (so an export made from a user's space file still loads when that
file is gone; its digest is checked on load), the canonical architecture, the class count and
the widths of pruned layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from nas.errors import NasInputError
from nas.export import files
from nas.export.files import ExportError
from nas.spaces import Space
from nas.spaces.base import Arch
from nas.version import __version__


def space_definition(space: Space) -> dict[str, Any]:
    """The validated description of ``space`` (what its file said, defaults filled in)."""
    model = getattr(space, "model", None)
    if model is None:
        raise ExportError(f"space kind {space.kind!r} cannot be exported (no description)")
    return dict(model.model_dump(mode="json"))


@dataclass(frozen=True)
class ExportSpec:
    """What an export folder says about its network (the contents of ``architecture.json``)."""

    space: Space
    arch: Arch
    num_classes: int
    widths: dict[str, int] = field(default_factory=dict)  # pruned layer -> channels kept
    source: dict[str, Any] = field(default_factory=dict)  # study, trial, data, ...
    # what nas did to the data set's images before the network (nas.data.fit_to_space)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)  # a name per output, in order

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """One training-resolution input: what accuracy is measured at."""
        r = self.space.train_resolution
        return (1, self.space.input_channels, r, r)

    def to_dict(self) -> dict[str, Any]:
        s = self.space
        return {
            "format": files.FORMAT,
            "format_version": files.FORMAT_VERSION,
            "nas_version": __version__,
            "space": {
                "name": s.name,
                "version": s.version,
                "kind": s.kind,
                "digest": s.digest,
                "definition": space_definition(s),
            },
            "arch": s.canonical(self.arch),
            "arch_hash": s.hash(self.arch),
            "arch_str": s.describe(self.arch),
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "latency_input": list(s.latency_input.shape),
            "widths": dict(self.widths),
            "source": self.source,
            "preprocessing": self.preprocessing,
            "classes": list(self.classes) or [str(i) for i in range(self.num_classes)],
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> ExportSpec:
        from nas.spaces.loader import space_from_dict

        if not isinstance(raw, dict) or raw.get("format") != files.FORMAT:
            raise ExportError(f"{where} was not written by 'nas export'")
        if raw.get("format_version") != files.FORMAT_VERSION:
            raise ExportError(
                f"{where}: export format version {raw.get('format_version')!r}, this nas reads "
                f"{files.FORMAT_VERSION}"
            )
        try:
            sp = raw["space"]
            space = space_from_dict(sp["definition"], source=f"{where} space")
            if space.digest != sp["digest"]:
                raise ExportError(f"{where}: the space description does not match its digest")
            arch = space.canonical(raw["arch"])
            if space.hash(arch) != raw["arch_hash"]:
                raise ExportError(f"{where}: the architecture does not match its hash")
            return cls(
                space=space,
                arch=arch,
                num_classes=int(raw["num_classes"]),
                widths={str(k): int(v) for k, v in raw.get("widths", {}).items()},
                source=dict(raw.get("source", {})),
                preprocessing=dict(raw.get("preprocessing", {})),
                classes=[str(c) for c in raw.get("classes", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None


def read_spec(directory: Path) -> ExportSpec:
    files.check_export(directory)
    path = directory / files.ARCHITECTURE
    return ExportSpec.from_dict(files.read_json(path), str(path))


def build(spec: ExportSpec) -> nn.Module:
    """A freshly initialised network of the shape ``spec`` describes (pruned widths included)."""
    from nas.export.widths import resize
    from nas.supernet import create_subnet

    net = create_subnet(spec.space, spec.arch, spec.num_classes)
    if spec.widths:
        net = resize(net, spec.widths)
    return net


def load(directory: str | os.PathLike[str]) -> nn.Module:
    """The network of an export folder, in eval mode: ``architecture.json`` + weights only.

    No supernet and no database are needed.

    Raises:
        NasInputError: not an export folder, or weights that do not fit the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    spec = read_spec(directory)
    net = build(spec)
    path = directory / files.WEIGHTS
    try:
        state = load_file(str(path))
        net.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NasInputError(f"{path}: weights do not fit the architecture: {first}") from None
    return net.eval()


def predict_source() -> bytes:
    """``predict.py``: classify with model.onnx using numpy and onnxruntime only."""
    return (Path(__file__).with_name("predict_template.py")).read_bytes()


def weights_bytes(net: nn.Module) -> bytes:
    from safetensors.torch import save

    state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    return save(state, metadata={"format": files.FORMAT})


def write_export(
    directory: Path,
    net: nn.Module,
    spec: ExportSpec,
    metrics: dict[str, Any],
    *,
    sparsity: float,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """Write every export file of ``net`` into ``directory`` (see :mod:`nas.export.files`).

    ``extra`` names further nas files the caller writes afterwards (kept, not removed).

    Returns:
        Notes for the user: a file that does not apply to this network and why.
    """
    from nas.export.nni_config import config_list
    from nas.export.onnx import onnx_bytes, torchscript_bytes
    from nas.export.widths import why_not

    net = net.eval()
    files.check_out_dir(directory)
    notes: list[str] = []
    # serialise everything first, so a failure leaves the folder as it was
    blobs = {
        files.WEIGHTS: weights_bytes(net),
        files.ONNX: onnx_bytes(net, spec.input_shape),
        files.TORCHSCRIPT: torchscript_bytes(net, spec.input_shape),
        files.METRICS: files.dumps(metrics).encode(),
    }
    if spec.preprocessing:  # what predict.py reads; an export without it gets no predict.py
        blobs[files.PREDICT] = predict_source()
    else:
        notes.append(f"{files.PREDICT} not written: the export does not record preprocessing")
    config = config_list(net, sparsity)
    if config is not None:
        blobs[files.COMPRESSION] = files.dumps(config).encode()
    else:
        notes.append(f"{files.COMPRESSION} not written: {why_not(net)}")
    # last: a folder whose architecture.json is present is a complete export
    blobs[files.ARCHITECTURE] = files.dumps(spec.to_dict()).encode()
    files.prepare_out_dir(directory, keep=tuple(blobs) + extra)
    for name, data in blobs.items():
        files.write_bytes(directory / name, data)
    return notes
