"""``nas export``: rebuild a study's trial from its supernet checkpoint and write its artifacts.

The trial's network is re-extracted from the search's own supernet checkpoint (never
retrained: a missing checkpoint is an error), its BatchNorm statistics re-estimated on the same
calibration batches as during the search, so the exported network is the one that was scored.
Latency comes from the trial (measured by the search on its target, for this very network),
which keeps ``metrics.json`` identical when the same trial is exported again.

A zero-cost study (``--evaluator zero-cost``) trained nothing: its trial's network is rebuilt
with the same seeded initialisation it was scored with, and exported with *untrained* weights
(``metrics.json`` says ``"weights": "untrained"``, and so does a note), unless
``--finetune-epochs`` trains it from there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.errors import OptionError, StorageError
from nas.export import select
from nas.export.nni_config import DEFAULT_SPARSITY
from nas.storage import keys
from nas.storage.db import DEFAULT_URL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """Everything ``nas export`` takes; validated on construction."""

    study: str
    out: str
    storage: str = DEFAULT_URL
    trial: int | None = None
    pick: str | None = None
    max_latency_ms: float | None = None
    finetune_epochs: int = 0
    sparsity: float = DEFAULT_SPARSITY

    def __post_init__(self) -> None:
        select.check_choice(self.trial, self.pick, self.max_latency_ms)
        if self.finetune_epochs < 0:
            raise OptionError(f"--finetune-epochs must be >= 0, got {self.finetune_epochs}")
        if not 0.0 <= self.sparsity < 1.0:
            raise OptionError(f"sparsity must be in [0, 1), got {self.sparsity}")


@dataclass(frozen=True)
class ExportResult:
    out: Path
    trial: int
    reason: str
    arch_str: str
    metrics: dict[str, Any]
    notes: tuple[str, ...] = ()


def evaluate(net: Any, x: Any, y: Any) -> float:
    """Top-1 accuracy on ``x`` through the cropped-kernel view (same function, faster)."""
    from nas.supernet.score import accuracy, small_input_view

    return accuracy(small_input_view(net, (1, *x.shape[1:])), x, y)


def export_study(opts: ExportOptions) -> ExportResult:
    """Export one trial of ``opts.study`` into ``opts.out`` (see the module docstring).

    Raises:
        NasInputError: bad options, storage, study, trial or output folder; nothing written.
    """
    from nas.export import files
    from nas.export.artifacts import write_export
    from nas.storage import Store
    from nas.storage.paths import base_dir, local_options

    out = Path(opts.out)
    files.check_out_dir(out)
    store = Store(opts.storage, read_only=True)
    study, settings = _supernet_study(store, opts.study)
    trial, reason = select.choose(
        study, settings, trial=opts.trial, pick=opts.pick, max_latency_ms=opts.max_latency_ms
    )
    # the study's plan (every default resolved when it was made; an old study's upgraded),
    # its stored paths (space file, data, checkpoints) resolved against the database's folder
    o = local_options(settings.plan(), base_dir(opts.storage))
    space, data = _space_and_data(o, settings, opts.study)
    # a sampler search's supernet and scoring use --supernet-seed; DARTS trains and scores
    # with --seed
    darts_study = bool(study.user_attrs.get(keys.DARTS_CHECKPOINT))
    seed = int(o["seed"] if darts_study else o["supernet_seed"])
    calib_batches = int(o["calib_batches"])
    zero_cost = settings.evaluator.partition(":")[0] == "zero-cost"
    if zero_cost:
        net, val, test = _untrained(trial, space, data, seed, opts.finetune_epochs)
    else:
        net, val, test = _rebuild(
            store, study, trial, space, data, o, (seed, calib_batches), opts.finetune_epochs
        )
    metrics = _metrics(net, trial, space.latency_input.shape, val, test)
    done = {"seed": seed, "calib_batches": calib_batches, "finetune_epochs": opts.finetune_epochs}
    spec = _spec(study, trial, space, data, settings, o, done)
    said: list[str] = []
    if zero_cost:
        trained = opts.finetune_epochs
        metrics["weights"] = (
            f"trained from scratch for {trained} epochs" if trained else "untrained"
        )
        metrics["zero_cost"] = {
            "evaluator": settings.evaluator,
            "score": trial.user_attrs.get(keys.ACCURACY),
            "raw": trial.user_attrs.get(keys.ZERO_COST),
        }
        said.append(
            f"zero-cost study: weights trained from scratch for only {trained} epochs"
            if trained
            else "zero-cost study: the weights are UNTRAINED (random initialisation; its "
            "accuracy is chance); train the network before use, e.g. --finetune-epochs N"
        )
    notes = said + write_export(out, net, spec, metrics, sparsity=opts.sparsity)
    log.info("exported trial %d of %s to %s", trial.number, study.study_name, out)
    return ExportResult(
        out, trial.number, reason, space.describe(spec.arch), metrics, tuple(notes)
    )


def _untrained(
    trial: Any, space: Any, data: Any, seed: int, epochs: int
) -> tuple[Any, float, float]:
    """``(network, val accuracy, test accuracy)`` of a zero-cost trial: built and initialised
    as the search scored it (never trained), then trained for ``epochs`` if asked."""
    from nas.export.finetune import finetune
    from nas.supernet import create_subnet
    from nas.supernet.proxies import default_init

    arch = space.canonical(trial.user_attrs[keys.ARCH])
    net = default_init(create_subnet(space, arch, data.num_classes), seed).eval()
    if epochs:
        finetune(net, data, epochs=epochs, seed=seed)
    return net, evaluate(net, data.x_val, data.y_val), evaluate(net, data.x_test, data.y_test)


def _supernet_study(store: Any, name: str) -> tuple[Any, Any]:
    """``(study, its settings)``; refuses, in one line, a study that holds no network to
    rebuild (:func:`nas.analysis.next_steps.export_refusal`: not made by nas, a table's or
    a synthetic one)."""
    from nas.analysis.next_steps import export_refusal
    from nas.storage import studies as st

    study = st.load(store, name)
    settings = st.settings_of(study)
    if why := export_refusal(name, settings):
        raise StorageError(why)
    assert settings is not None
    return study, settings


def _space_and_data(o: dict[str, Any], settings: Any, study: str) -> tuple[Any, Any]:
    """The study's space and data set as they are here, refused if either has changed."""
    from nas.data import load_for_space
    from nas.spaces import load_space
    from nas.spaces.base import LatencyInput

    space = load_space(str(o["space"]))
    if space.digest != settings.space_digest:
        raise StorageError(
            f"space {o['space']!r} has changed since study {study!r} was made "
            f"(digest {space.digest}, study {settings.space_digest})"
        )
    if o["latency_input"]:
        space = space.with_latency_input(LatencyInput.parse(str(o["latency_input"])))
    data = load_for_space(
        o["data"], space, train_images=o["train_images"], val_images=o["val_images"]
    )
    if data.fingerprint() != settings.data_fingerprint:
        raise StorageError(f"data set {settings.data!r} has changed since the search")
    return space, data


def _rebuild(
    store: Any,
    study: Any,
    trial: Any,
    space: Any,
    data: Any,
    o: dict[str, Any],
    seeds: tuple[int, int],
    epochs: int,
) -> tuple[Any, float, float]:
    """``(network, val accuracy, test accuracy)`` of the trial, extracted from the search's
    supernet checkpoint with BatchNorm re-estimated on ``seeds = (seed, calibration batches)``
    as in the search (then fine-tuned for ``epochs``)."""
    from nas.export.finetune import finetune
    from nas.supernet.score import calibration_batches, extract_scored
    from nas.supernet.seeding import seeded
    from nas.supernet.train import TrainConfig
    from nas.supernet.trained import load_checkpoint, load_supernet

    seed, calib_batches = seeds
    darts_key = study.user_attrs.get(keys.DARTS_CHECKPOINT)
    if darts_key:  # a DARTS study: the cell supernet's weights after its last recorded epoch
        supernet, _ = load_checkpoint(store, str(darts_key), space, data.num_classes)
    else:
        cfg = TrainConfig(
            epochs=int(o["supernet_epochs"]), batch_size=int(o["batch_size"]), seed=seed
        )
        supernet, _ = load_supernet(store, space, data, cfg)
    arch = space.canonical(trial.user_attrs[keys.ARCH])
    calib = calibration_batches(data.x_train, n_batches=calib_batches, batch_size=128, seed=seed)
    with seeded(seed):
        net, val = extract_scored(supernet, arch, calib, data.x_val, data.y_val)
    if epochs:
        finetune(net, data, epochs=epochs, seed=seed)
        val = evaluate(net, data.x_val, data.y_val)
    return net, val, evaluate(net, data.x_test, data.y_test)


def _metrics(
    net: Any, trial: Any, shape: tuple[int, ...], val: float, test: float
) -> dict[str, Any]:
    """``metrics.json``: accuracies measured here, latency as the search recorded it."""
    from nas.hardware.cost import count_flops, count_params

    flops, params = count_flops(net, shape), count_params(net)
    ua = trial.user_attrs
    return {
        "accuracy": {"val": val, "test": test},
        "latency": ua.get(keys.LATENCY),
        "latency_ms": ua.get(keys.LATENCY_MS),
        "latency_input": list(shape),
        "latency_source": f"search trial {trial.number} ({ua.get(keys.LATENCY_SOURCE)})",
        "fingerprint": ua.get(keys.FINGERPRINT),
        "fingerprint_id": ua.get(keys.FINGERPRINT_ID),
        "params": params,
        "params_m": params / 1e6,
        "flops_m": flops / 1e6,
        "macs_m": flops / 2e6,
    }


def _spec(
    study: Any,
    trial: Any,
    space: Any,
    data: Any,
    settings: Any,
    o: dict[str, Any],
    done: dict[str, int],
) -> Any:
    """``architecture.json``: the network and where it came from (what compress reads back);
    ``done``: the seed, calibration batches and fine-tuning epochs the export used."""
    from nas.export.artifacts import ExportSpec

    return ExportSpec(
        space=space,
        arch=space.canonical(trial.user_attrs[keys.ARCH]),
        num_classes=data.num_classes,
        preprocessing=data.preprocessing,
        classes=data.class_names(),
        source={
            "study": study.study_name,
            "trial": trial.number,
            "data": o["data"],  # a path as it is here, for compress
            "data_fingerprint": settings.data_fingerprint,
            # the fixed subsets the search trained and scored on (compress reads the same)
            "train_images": o["train_images"],
            "val_images": o["val_images"],
            **done,
            # a zero-cost study's accuracy axis is a proxy score (in metrics.json), not this
            "search_val_accuracy": None
            if settings.evaluator.startswith("zero-cost")
            else trial.user_attrs.get(keys.ACCURACY),
        },
    )
