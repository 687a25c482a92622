"""How a candidate's latency is obtained: measured, predicted from the lookup table, or both.

- ``measured``: end-to-end on the target (read through the ``nas_latency`` cache).
- ``predicted``: the lookup-table predictor (:mod:`nas.hardware.lut`); nothing is timed during
  the search once the table exists.
- ``hybrid``: predict every candidate; measure end to end only a candidate whose predicted
  point could enter the current accuracy/latency Pareto front, that is, one that no point
  already on the front dominates even if its latency were ``margin`` (10 %) lower than
  predicted. Candidates that cannot matter keep their prediction. Every trial records which
  it got (``latency_source``). The weighted (MnasNet) objective's best lies on the same front
  when the exponent is negative, so the rule serves both objectives.

This module also profiles tables, fits and validates predictors, since all three need the
target, the storage and fresh networks together.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.errors import OptionError
from nas.evaluators.base import LATENCY_MODES
from nas.hardware import Target
from nas.hardware.lut import (
    Correction,
    LatencyPredictor,
    all_specs,
    build_layer,
    fit_correction,
    lut_key,
)
from nas.pareto import Front2D
from nas.spaces import Space
from nas.spaces.base import Arch, Value
from nas.storage import Store
from nas.storage.latency_cache import LatencyCache
from nas.storage.latency_lut import LatencyTableStore

log = logging.getLogger(__name__)

DEFAULT_FIT_SAMPLES = 10


def check_latency_mode(mode: str) -> None:
    if mode not in LATENCY_MODES:
        raise OptionError(f"--latency must be one of {', '.join(LATENCY_MODES)}, got {mode!r}")


# ---- end-to-end measurement ---------------------------------------------------------------
def measure_arch(
    space: Space,
    arch: Mapping[str, Value],
    target: Target,
    num_classes: int,
    cache: LatencyCache | None,
    module: Any = None,
) -> tuple[dict[str, Any], str]:
    """``(stats, "measured" | "cached")`` of ``arch`` end to end at the space's latency shape.

    ``module`` is the network to time (a fresh one is built if omitted: latency does not
    depend on the weights).
    """
    shape = space.latency_input.shape
    h = space.hash(arch)
    fid = target.fingerprint_id()
    if cache is not None:
        hit = cache.get(h, fid, shape)
        if hit is not None:
            return hit, "cached"
    if module is None:
        from nas.supernet import create_subnet

        module = create_subnet(space, dict(arch), num_classes)
    stats = target.measure(module, shape).to_dict()
    if cache is not None:
        cache.put(h, fid, shape, stats, target.fingerprint())
    return stats, "measured"


# ---- the lookup table ---------------------------------------------------------------------
def profile_table(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    on_entry: Callable[[int, int, str, float], None] | None = None,
) -> dict[str, float]:
    """Measure every layer of the space not yet in the stored table; the whole table.

    ``on_entry(done, total, key, median_ms)`` is called after each new measurement.
    """
    lut = LatencyTableStore(store)
    fid, fp = target.fingerprint_id(), target.fingerprint()
    table = lut.entries(space.digest, fid)
    specs = all_specs(space, num_classes)
    todo = [s for s in specs if lut_key(s) not in table]
    for i, spec in enumerate(todo, 1):
        key = lut_key(spec)
        stats = target.measure(build_layer(space, spec), spec.input_shape).to_dict()
        lut.put(space.digest, fid, key, stats, fp)
        table[key] = float(stats["median_ms"])
        if on_entry is not None:
            on_entry(i, len(todo), key, table[key])
    return {lut_key(s): table[lut_key(s)] for s in specs}


def sample_archs(space: Space, n: int, seed: int, *, extremes: bool = True) -> list[Arch]:
    """``n`` distinct architectures: uniformly random ones, after the largest and smallest
    when ``extremes`` (they span the range a linear fit needs)."""
    rng = random.Random(seed)
    archs: dict[str, Arch] = {}
    makers = [getattr(space, "largest", None), getattr(space, "smallest", None)]
    for make in makers if extremes else []:
        if make is not None and len(archs) < n:
            a = make()
            archs[space.hash(a)] = a
    tries = 0
    while len(archs) < n and tries < 100 * n:
        a = space.sample(rng)
        archs.setdefault(space.hash(a), a)
        tries += 1
    return list(archs.values())


def fit_predictor(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    samples: int = DEFAULT_FIT_SAMPLES,
    seed: int = 0,
    on_sample: Callable[[int, int], None] | None = None,
) -> LatencyPredictor:
    """Fit (and store) the correction on ``samples`` end-to-end measurements."""
    table = profile_table(store, space, target, num_classes)
    bare = LatencyPredictor(space, table, Correction(), num_classes)
    cache = LatencyCache(store)
    sums, measured, hashes = [], [], []
    archs = sample_archs(space, samples, seed)
    for i, arch in enumerate(archs, 1):
        stats, _ = measure_arch(space, arch, target, num_classes, cache)
        sums.append(bare.table_sum(arch))
        measured.append(float(stats["median_ms"]))
        hashes.append(space.hash(arch))
        if on_sample is not None:
            on_sample(i, len(archs))
    corr = fit_correction(sums, measured)
    LatencyTableStore(store).put_fit(
        space.digest,
        target.fingerprint_id(),
        num_classes,
        a=corr.a,
        b=corr.b,
        n=corr.n,
        meta={
            "floor_ratio": corr.floor_ratio,
            "arch_hashes": hashes,
            "table_sums_ms": sums,
            "measured_ms": measured,
        },
    )
    return LatencyPredictor(space, table, corr, num_classes)


def load_predictor(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    fit_samples: int = DEFAULT_FIT_SAMPLES,
    seed: int = 0,
    on_message: Callable[[str], None] | None = None,
) -> LatencyPredictor:
    """The stored predictor; profiles the table and fits the correction first if missing."""
    say = on_message or (lambda _msg: None)
    lut = LatencyTableStore(store)
    fid = target.fingerprint_id()
    table = lut.entries(space.digest, fid)
    keys_needed = [lut_key(s) for s in all_specs(space, num_classes)]
    missing = [k for k in keys_needed if k not in table]
    if missing:
        say(f"profiling the latency lookup table: {len(missing)} layers on {target.name}")
        table = profile_table(store, space, target, num_classes)
    fit = lut.fit(space.digest, fid, num_classes)
    if fit is None:
        say(f"fitting the latency predictor on {fit_samples} end-to-end measurements")
        return fit_predictor(store, space, target, num_classes, samples=fit_samples, seed=seed)
    floor = float(fit["meta"].get("floor_ratio", 0.0))
    corr = Correction(float(fit["a"]), float(fit["b"]), int(fit["n"]), floor)
    return LatencyPredictor(space, {k: table[k] for k in keys_needed}, corr, num_classes)


# ---- the policy used by the evaluator ------------------------------------------------------
@dataclass
class LatencyOutcome:
    stats: dict[str, Any]
    source: str  # "measured" | "cached" | "predicted"
    predicted_ms: float | None


def predicted_stats(ms: float) -> dict[str, Any]:
    """A LatencyStats-shaped dict for a prediction (no runs; spread unknown)."""
    return {
        "median_ms": ms,
        "mean_ms": ms,
        "std_ms": 0.0,
        "p10_ms": ms,
        "p90_ms": ms,
        "min_ms": ms,
        "runs": 0,
        "rejected": 0,
        "warmup": 0,
        "noisy": False,
    }


class LatencyMeter:
    """Gives a candidate its latency according to the mode (see the module docstring)."""

    def __init__(
        self,
        space: Space,
        target: Target,
        *,
        mode: str = "measured",
        cache: LatencyCache | None = None,
        predictor: LatencyPredictor | None = None,
        num_classes: int = 10,
        margin: float = 0.10,
    ) -> None:
        check_latency_mode(mode)
        if mode != "measured" and predictor is None:
            raise OptionError(f"--latency {mode} needs a lookup-table predictor")
        self.space, self.target, self.mode = space, target, mode
        self.cache, self.predictor = cache, predictor
        self.num_classes, self.margin = num_classes, margin
        self.front = Front2D()  # (accuracy, latency_ms) of the finished candidates

    def observe(self, accuracy: float, latency_ms: float) -> None:
        """Add a finished candidate's point to the front it keeps (non-finite ones: ignored)."""
        if math.isfinite(accuracy) and math.isfinite(latency_ms):
            self.front.add(accuracy, latency_ms)

    def could_enter_front(self, accuracy: float, predicted_ms: float) -> bool:
        if not (math.isfinite(accuracy) and math.isfinite(predicted_ms)):
            return True  # no basis to skip the measurement
        return not self.front.covers(accuracy, predicted_ms * (1.0 - self.margin))

    def latency(self, arch: Mapping[str, Value], module: Any, accuracy: float) -> LatencyOutcome:
        """Latency of ``arch`` (its network is ``module``), whose accuracy is ``accuracy``.

        Raises:
            OSError, RuntimeError: the target could not measure.
        """
        predicted = self.predictor.predict(arch) if self.predictor is not None else None
        if self.mode == "predicted" or (
            self.mode == "hybrid"
            and predicted is not None
            and not self.could_enter_front(accuracy, predicted)
        ):
            assert predicted is not None
            return LatencyOutcome(predicted_stats(predicted), "predicted", predicted)
        stats, source = measure_arch(
            self.space, arch, self.target, self.num_classes, self.cache, module
        )
        return LatencyOutcome(stats, source, predicted)
