"""``nas compress``: prune, fine-tune and quantise an export, and measure what it gained.

Steps: load the export (:func:`nas.load`); remove ``prune`` of the free channels of every
prunable layer (:mod:`nas.export.widths`: physically, so the network really is smaller);
fine-tune on the training split; write the pruned network as an export of the same format;
quantise its ONNX model to int8 (:mod:`nas.export.quantize`); then measure every variant on
the same machine, threads and input shape (torch eager as in the search, ONNX Runtime for
the ONNX files) and write the before/after table. Beside the pruned network the table holds
the exported one fine-tuned the same epochs with the same seed, unpruned (``fine-tuned``), so
that fine-tuning's gain and pruning's cost each show on their own. The ONNX files run
exactly as the ``onnxruntime`` target runs a network (:mod:`nas.hardware.ort`), so every row
records the fingerprint id a search on that target would cache the latency under.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import OptionError
from nas.export import files
from nas.hardware.timing import TimingConfig

log = logging.getLogger(__name__)

QUANTIZE = ("int8", "none")
FINETUNED = "fine-tuned"  # the row of the exported network fine-tuned, unpruned


@dataclass(frozen=True)
class CompressOptions:
    """Everything ``nas compress`` takes; validated on construction."""

    source: str
    out: str
    prune: float = 0.5
    quantize: str = "int8"
    finetune_epochs: int = 6
    data: str | None = None  # default: the data set recorded in the export
    threads: int | None = None  # default: the threads of the export's latency fingerprint
    seed: int = 0
    calib_batches: int = 8
    timing: TimingConfig = field(default_factory=TimingConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.prune < 1.0:
            raise OptionError(f"--prune must be in [0, 1), got {self.prune}")
        if self.quantize not in QUANTIZE:
            raise OptionError(
                f"--quantize must be one of {', '.join(QUANTIZE)}, got {self.quantize!r}"
            )
        if self.finetune_epochs < 0:
            raise OptionError(f"--finetune-epochs must be >= 0, got {self.finetune_epochs}")
        if self.threads is not None and self.threads < 1:
            raise OptionError(f"--threads must be >= 1, got {self.threads}")
        if Path(self.source).resolve() == Path(self.out).resolve():
            raise OptionError("--out must differ from the export folder being compressed")


@dataclass(frozen=True)
class Row:
    """One model variant in the before/after table."""

    model: str
    runtime: str
    file: str
    params: int
    flops_m: float
    size_bytes: int
    test_accuracy: float
    latency: dict[str, Any]
    fingerprint_id: str  # the latency cache key part of the target that measured this row


@dataclass(frozen=True)
class CompressResult:
    out: Path
    rows: list[Row]
    report: dict[str, Any]
    notes: tuple[str, ...] = ()


def _load_data(spec: Any, override: str | None) -> Any:
    from nas.data import load_for_space
    from nas.export.files import ExportError

    name = override or spec.source.get("data")
    subsets = {k: spec.source.get(k) for k in ("train_images", "val_images")}
    data = load_for_space(name, spec.space, **(subsets if override is None else {}))
    if data.num_classes != spec.num_classes:
        raise ExportError(
            f"data set {name!r} has {data.num_classes} classes, the export {spec.num_classes}"
        )
    expected = spec.source.get("data_fingerprint")
    if override is None and expected and data.fingerprint() != expected:
        raise ExportError(f"data set {name!r} has changed since the export; give --data")
    return data


def compress(opts: CompressOptions) -> CompressResult:
    """Compress the export ``opts.source`` into ``opts.out`` (see the module docstring).

    Raises:
        NasInputError: not an export, bad options or output folder; nothing written.
    """
    from nas.export.artifacts import load, read_spec, write_export
    from nas.export.study_export import evaluate
    from nas.hardware.cpu import CpuTarget
    from nas.hardware.ort import OnnxRuntimeTarget
    from nas.supernet.seeding import seeded

    src, out = Path(opts.source), Path(opts.out)
    spec = read_spec(src)
    files.check_out_dir(out)
    metrics = files.read_json(src / files.METRICS)
    data = _load_data(spec, opts.data)
    net = load(src)
    recorded = (metrics.get("fingerprint") or {}).get("threads")  # the search's, if it said
    threads = opts.threads or (int(recorded) if recorded else None)
    cpu = CpuTarget(threads=threads, timing=opts.timing)
    shape = spec.space.latency_input.shape

    with seeded(opts.seed):  # the pruners' own draws (NNI reads torch's global generator)
        pruned, cannot, notes = _prune_and_finetune(net, data, opts)
    tuned = _finetuned_unpruned(net, data, opts) if cannot is None else None
    test = evaluate(pruned, data.x_test, data.y_test)
    lat = cpu.measure(pruned, shape).to_dict()
    pruned_metrics = _pruned_metrics(pruned, data, shape, cpu, (test, lat))
    extra: tuple[str, ...] = (files.REPORT, files.REPORT_MD)
    if opts.quantize == "int8":
        extra += (files.INT8_ONNX,)
    written = write_export(
        out,
        pruned,
        _pruned_spec(spec, pruned, opts),
        pruned_metrics,
        sparsity=opts.prune,
        extra=extra,
    )
    notes += [n for n in written if cannot is None or not n.startswith(files.COMPRESSION)]
    if opts.quantize == "int8":
        _quantize(out, data, opts)

    after = "pruned" if cannot is None else "not pruned"
    ort = OnnxRuntimeTarget(threads=cpu.threads, timing=opts.timing)
    rows = _measure(opts, data, (cpu, ort), shape, (net, src), (pruned, out), (test, lat), after)
    if tuned is not None:  # like with like: beside "pruned", which was fine-tuned as much
        acc_lat = (evaluate(tuned, data.x_test, data.y_test), cpu.measure(tuned, shape).to_dict())
        rows.insert(1, _row(FINETUNED, cpu, src / files.WEIGHTS, tuned, shape, acc_lat, ""))
        notes.append(
            f"{FINETUNED}: the exported network fine-tuned {opts.finetune_epochs} epoch(s) "
            f"with seed {opts.seed} like the pruned one, not pruned (not written): pruning's own "
            f"cost is pruned - {FINETUNED}"
        )
    report = _report(opts, (net, pruned), shape, (cpu, ort), rows, notes)
    files.write_json(out / files.REPORT, report)
    files.write_bytes(out / files.REPORT_MD, markdown(rows, report).encode())
    return CompressResult(out, rows, report, tuple(notes))


def _prune_and_finetune(
    net: Any, data: Any, opts: CompressOptions
) -> tuple[Any, str | None, list[str]]:
    """``(pruned network, why it could not be pruned or None, notes)``; fine-tuned if pruned."""
    from nas.export.finetune import finetune
    from nas.export.widths import prune, why_not

    notes: list[str] = []
    cannot = why_not(net)
    pruned = prune(net, opts.prune)
    if cannot is None:
        finetune(pruned, data, epochs=opts.finetune_epochs, seed=opts.seed)
    else:  # nothing removed, so nothing to recover: the network stays as exported
        notes.append(f"not pruned: {cannot}; fine-tuning skipped")
        if opts.quantize == "int8":
            notes.append("int8 quantization still applies")
    return pruned, cannot, notes


def _finetuned_unpruned(net: Any, data: Any, opts: CompressOptions) -> Any | None:
    """The exported network fine-tuned as the pruned one is (same epochs, same seed), or
    None without fine-tuning."""
    import copy

    from nas.export.finetune import finetune
    from nas.supernet.seeding import seeded

    if not opts.finetune_epochs:
        return None
    tuned = copy.deepcopy(net)
    with seeded(opts.seed):  # as the pruned network's fine-tuning ran
        finetune(tuned, data, epochs=opts.finetune_epochs, seed=opts.seed)
    return tuned.eval()


def _pruned_spec(spec: Any, pruned: Any, opts: CompressOptions) -> Any:
    """The export's spec with the pruned widths and what compress did to it."""
    from nas.export.artifacts import ExportSpec
    from nas.export.widths import widths

    done = {
        "prune": opts.prune,
        "finetune_epochs": opts.finetune_epochs,
        "quantize": opts.quantize,
        "seed": opts.seed,
        "from_arch_hash": spec.space.hash(spec.arch),
    }
    return ExportSpec(
        space=spec.space,
        arch=spec.arch,
        num_classes=spec.num_classes,
        widths=widths(pruned),
        preprocessing=spec.preprocessing,
        classes=spec.classes,
        source={**spec.source, "compressed": done},
    )


def _pruned_metrics(
    pruned: Any, data: Any, shape: tuple[int, ...], cpu: Any, test_lat: tuple[float, dict]
) -> dict[str, Any]:
    """``metrics.json`` of the pruned export (latency measured here, on ``cpu``)."""
    from nas.export.study_export import evaluate
    from nas.hardware.cost import count_flops, count_params

    test, lat = test_lat
    flops, params = count_flops(pruned, shape), count_params(pruned)
    return {
        "accuracy": {"val": evaluate(pruned, data.x_val, data.y_val), "test": test},
        "latency": lat,
        "latency_ms": lat["median_ms"],
        "latency_input": list(shape),
        "latency_source": "measured by nas compress",
        "fingerprint": cpu.fingerprint(),
        "fingerprint_id": cpu.fingerprint_id(),
        "params": params,
        "params_m": params / 1e6,
        "flops_m": flops / 1e6,
        "macs_m": flops / 2e6,
    }


def _quantize(out: Path, data: Any, opts: CompressOptions) -> None:
    """Write the int8 model of ``out``'s ONNX file, calibrated on training batches."""
    from nas.export.quantize import quantize_int8
    from nas.supernet.score import calibration_batches

    calib = calibration_batches(
        data.x_train, n_batches=opts.calib_batches, batch_size=32, seed=opts.seed
    )
    quantize_int8(out / files.ONNX, out / files.INT8_ONNX, [b.numpy() for b in calib])


def _report(
    opts: CompressOptions,
    nets: tuple[Any, Any],
    shape: tuple[int, ...],
    targets: tuple[Any, Any],
    rows: list[Row],
    notes: list[str],
) -> dict[str, Any]:
    """What ``compression_report.json`` holds."""
    from nas.export.widths import widths

    (net, pruned), (cpu, ort) = nets, targets
    return {
        "source": str(Path(opts.source)),
        "out": str(Path(opts.out)),
        "options": {k: v for k, v in asdict(opts).items() if k not in ("source", "out")},
        "widths_before": widths(net),
        "widths_after": widths(pruned),
        "latency_input": list(shape),
        "threads": cpu.threads,
        "fingerprints": {"torch": cpu.fingerprint(), "onnxruntime": ort.fingerprint()},
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }


def _measure(
    opts: CompressOptions,
    data: Any,
    targets: tuple[Any, Any],
    shape: tuple[int, ...],
    before: tuple[Any, Path],
    after: tuple[Any, Path],
    after_torch: tuple[float, dict[str, Any]],
    after_name: str = "pruned",
) -> list[Row]:
    """The before/after rows: every variant measured here, the same way (see module doc)."""
    from nas.export.study_export import evaluate
    from nas.hardware import ort as ort_run

    (net, src), (pruned, out), (cpu, ort) = before, after, targets
    exported = (evaluate(net, data.x_test, data.y_test), cpu.measure(net, shape).to_dict())
    rows = [
        _row("exported", cpu, src / files.WEIGHTS, net, shape, exported),
        _row(after_name, cpu, out / files.WEIGHTS, pruned, shape, after_torch),
    ]
    variants = [("exported", src / files.ONNX, net), (after_name, out / files.ONNX, pruned)]
    if after_name != "pruned":  # the same network as exported: measuring it twice adds nothing
        rows, variants = rows[:1], variants[:1]
    if opts.quantize == "int8":
        int8 = "pruned + int8" if after_name == "pruned" else "int8"
        variants.append((int8, out / files.INT8_ONNX, pruned))
    for name, path, module in variants:
        sess = ort.session(path)
        acc = ort_run.accuracy(sess, data.x_test, data.y_test)
        lat = ort.measure_session(sess, shape).to_dict()
        rows.append(_row(name, ort, path, module, shape, (acc, lat)))
    return rows


def _row(
    name: str,
    target: Any,
    path: Path,
    module: Any,
    shape: tuple[int, ...],
    acc_lat: tuple[float, dict[str, Any]],
    file: str | None = None,
) -> Row:
    """The row of ``module`` (stored at ``path``, or at the same size but not written where
    ``file`` is '') with its accuracy and latency on ``target``."""
    from nas.hardware.cost import count_flops, count_params

    return Row(
        name,
        str(target.fingerprint()["runtime"]),
        str(path) if file is None else file,
        count_params(module),
        count_flops(module, shape) / 1e6,
        path.stat().st_size,
        *acc_lat,
        target.fingerprint_id(),
    )


def markdown(rows: list[Row], report: dict[str, Any]) -> str:
    """The before/after table as Markdown (what ``compression_report.md`` holds)."""
    head = (
        "| model | runtime | params | MFLOPs | size on disk | test accuracy % | "
        "latency median ms | p10-p90 ms |\n|---|---|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r.model} | {r.runtime} | {r.params:,} | {r.flops_m:.1f} | "
        f"{r.size_bytes / 1024:.1f} KiB ({Path(r.file).name if r.file else 'not written'}) | "
        f"{100 * r.test_accuracy:.2f} | "
        f"{r.latency['median_ms']:.2f} | {r.latency['p10_ms']:.2f}-{r.latency['p90_ms']:.2f} |"
        for r in rows
    ]
    shape = "x".join(str(d) for d in report["latency_input"])
    return (
        f"Input {shape}, {report['threads']} thread(s); prune {report['options']['prune']}, "
        f"fine-tune {report['options']['finetune_epochs']} epoch(s), quantize "
        f"{report['options']['quantize']}.\n\n" + head + "\n".join(lines) + "\n"
    )
