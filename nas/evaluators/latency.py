"""How a candidate's latency is obtained: measured, predicted from the lookup table, or both.

- ``measured``: end-to-end on the target (read through the ``nas_latency`` cache).
- ``predicted``: the lookup-table predictor (:mod:`nas.hardware.lut`, validated on held-out
  networks before it is used); nothing is timed during the search once the table exists.
- ``hybrid``: predict every candidate; measure end to end only a candidate whose predicted
  point could enter the current accuracy/latency Pareto front, that is, one that no point
  already on the front dominates even if its latency were ``margin`` (10 %) lower than
  predicted. Candidates that cannot matter keep their prediction. Every trial records which
  it got (``latency_source``). The weighted (MnasNet) objective's best lies on the same front
  when the exponent is negative, so the rule serves both objectives.

Tables, fits and their validation live in :mod:`nas.hardware.lut`; this module only decides
which latency a candidate gets.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas.errors import OptionError
from nas.evaluators.base import LATENCY_MODES
from nas.hardware import Target
from nas.hardware.lut import FitRefused, LatencyPredictor, measure_arch
from nas.pareto import Front2D
from nas.spaces import Space
from nas.spaces.base import Value
from nas.storage.latency_cache import LatencyCache

log = logging.getLogger(__name__)


def check_latency_mode(mode: str) -> None:
    if mode not in LATENCY_MODES:
        raise OptionError(f"--latency must be one of {', '.join(LATENCY_MODES)}, got {mode!r}")


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
        if mode != "measured" and predictor is not None:
            v = predictor.validation
            if v is None or v.failures():
                why = "has no validation figures" if v is None else "; ".join(v.failures())
                raise FitRefused(
                    f"--latency {mode} needs a predictor validated on held-out networks; "
                    f"this one {why}: run `nas hardware profile --reprofile`"
                )
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


def measure_network(
    meter: LatencyMeter,
    arch: Mapping[str, Value],
    net: Any,
    score: float,
    *,
    fingerprint: Mapping[str, Any],
    fingerprint_id: str,
    eval_seconds: float,
) -> tuple[dict[str, Any], float]:
    """Latency, cost metrics and their bookkeeping for one scored candidate network: the
    trial attributes every evaluator that builds a network stores, and the latency in ms.

    Raises:
        CandidateError: the latency measurement failed on the target (this trial only).
    """
    import time

    from nas.evaluators.base import CandidateError
    from nas.hardware.cost import count_params, forward_costs
    from nas.storage import keys

    t1 = time.perf_counter()
    try:
        got = meter.latency(arch, net, score)
    except (OSError, RuntimeError) as exc:
        msg = f"latency measurement failed on {meter.target.name}: {exc}"
        raise CandidateError(msg) from exc
    t2 = time.perf_counter()
    flops, peak_bytes = forward_costs(net, meter.space.latency_input.shape)
    attrs: dict[str, Any] = {
        keys.LATENCY: got.stats,
        keys.LATENCY_SOURCE: got.source,
        keys.FINGERPRINT: dict(fingerprint),
        keys.FINGERPRINT_ID: fingerprint_id,
        keys.PARAMS_M: count_params(net) / 1e6,
        keys.FLOPS_M: flops / 1e6,
        keys.MACS_M: flops / 2e6,
        keys.PEAK_ACTIVATION_MB: peak_bytes / 2**20,
        keys.EVAL_SECONDS: eval_seconds,
        keys.LATENCY_SECONDS: t2 - t1,
        keys.LATENCY_MODE: meter.mode,
    }
    if got.predicted_ms is not None:
        attrs[keys.LATENCY_PREDICTED_MS] = got.predicted_ms
    latency_ms = float(got.stats["median_ms"])
    meter.observe(score, latency_ms)
    return attrs, latency_ms
