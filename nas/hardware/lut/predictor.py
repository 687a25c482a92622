"""The predictor on a lookup table: the table sum, a fitted correction, and the fit's validation.

A plain sum misses what the network pays once (framework dispatch, memory traffic between
layers, the graph-level fusion of a runtime), so the predictor adds a linear correction
``a * sum + b`` fitted (Theil-Sen, robust to disturbed measurements) to a few end-to-end
measurements. Quality is reported as nn-Meter (Zhang et al., 2021) does: Kendall's tau, MAPE
and the share within +-10 %.

A fit is only used after it has been *validated*: its predictions for networks measured end to
end but not used in the fit (held out) must rank them (Kendall tau at least
:data:`~nas.storage.latency_lut.MIN_KENDALL_TAU`) and be close to them (median relative error
at most ``MAX_MEDIAN_REL_ERROR``, worst at most ``MAX_REL_ERROR``). A table profiled while
other jobs slowed the machine fails this (docs/hardware.md). The record of a validation
(:class:`~nas.storage.latency_lut.Validation`) and these thresholds live with the stored fit,
without torch, so the dashboard judges a stored fit as a search does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nas.hardware.lut.layers import layer_specs, lut_key
from nas.spaces import Space
from nas.spaces.base import Value
from nas.storage.latency_lut import Validation


@dataclass(frozen=True)
class Correction:
    """``latency ~= a * table_sum + b`` (ms), fitted on ``n`` end-to-end measurements.

    ``floor_ratio`` is the smallest measured / table-sum ratio of the fit: a prediction never
    goes below ``floor_ratio * table_sum``, so a negative intercept cannot make a small
    network's prediction zero or negative.
    """

    a: float = 1.0
    b: float = 0.0
    n: int = 0
    floor_ratio: float = 0.0

    def apply(self, table_sum: float) -> float:
        return max(self.a * table_sum + self.b, self.floor_ratio * table_sum)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def fit_correction(sums: Sequence[float], measured: Sequence[float]) -> Correction:
    """Robust line through ``(sum, measured)``: Theil-Sen (median of pairwise slopes), which
    a few measurements disturbed by other load on the machine cannot pull away. With fewer
    than two distinct sums, or a non-positive slope, only a scale is fitted."""
    import numpy as np
    from scipy.stats import theilslopes

    x = np.asarray(sums, dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    if len(x) != len(y) or len(x) == 0 or (x <= 0).any():
        raise ValueError("fit needs as many positive table sums as measurements, at least one")
    ratios = y / x
    floor = float(ratios.min())
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept, _, _ = theilslopes(y, x)
        if slope > 0:
            return Correction(float(slope), float(intercept), len(x), floor)
    return Correction(float(np.median(ratios)), 0.0, len(x), floor)


@dataclass(frozen=True)
class LatencyPredictor:
    """Table sum plus correction for one space, target fingerprint and class count.

    ``validation`` is the fit's check on held-out networks (None only for a fit stored before
    validation existed, which searches refuse).
    """

    space: Space
    table: Mapping[str, float]
    correction: Correction
    num_classes: int
    validation: Validation | None = None

    def missing(self, arch: Mapping[str, Value]) -> list[str]:
        return [
            k
            for k in map(lut_key, layer_specs(self.space, arch, self.num_classes))
            if k not in self.table
        ]

    def table_sum(self, arch: Mapping[str, Value]) -> float:
        """Sum of the layers' table entries (ms). Raises KeyError for a layer not profiled."""
        return sum(self.table[lut_key(s)] for s in layer_specs(self.space, arch, self.num_classes))

    def predict(self, arch: Mapping[str, Value]) -> float:
        """Predicted end-to-end median latency (ms)."""
        return self.correction.apply(self.table_sum(arch))


@dataclass(frozen=True)
class Quality:
    """How well predictions match measurements."""

    n: int
    kendall_tau: float
    mape: float  # mean absolute percentage error, a fraction
    within_10: float  # share of predictions within +-10 % of the measurement

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _tau(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Kendall's tau-b; 0 where it is undefined (constant predictions rank nothing)."""
    from scipy.stats import kendalltau

    tau = float(kendalltau(predicted, measured).statistic)
    return tau if math.isfinite(tau) else 0.0


def _relative_errors(predicted: Sequence[float], measured: Sequence[float]) -> Any:
    import numpy as np

    p = np.asarray(predicted, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    if len(p) != len(m) or len(p) < 2:
        raise ValueError("quality needs at least two prediction/measurement pairs")
    return np.abs(p - m) / m


def quality(predicted: Sequence[float], measured: Sequence[float]) -> Quality:
    rel = _relative_errors(predicted, measured)
    tau = _tau(predicted, measured)
    return Quality(len(rel), tau, float(rel.mean()), float((rel <= 0.10).mean()))


def pass_agreement(passes: Sequence[Sequence[float]]) -> float:
    """Median Kendall tau between every two passes of measurements of the same networks: how
    well the measurements rank the networks alike, the ceiling for any predictor's tau."""
    from itertools import combinations

    import numpy as np

    if len(passes) < 2:
        raise ValueError("agreement needs at least two passes")
    return float(np.median([_tau(a, b) for a, b in combinations(passes, 2)]))


# ---- validation on held-out networks ------------------------------------------------------
def machine_load() -> float | None:
    """The 1-minute load average, or None where the OS does not report one."""
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def validate(predicted: Sequence[float], measured: Sequence[float]) -> Validation:
    """The figures of predictions against held-out measurements, stamped with now and the load."""
    from datetime import UTC, datetime

    import numpy as np

    rel = _relative_errors(predicted, measured)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Validation(
        len(rel),
        _tau(predicted, measured),
        float(np.median(rel)),
        float(rel.max()),
        now,
        machine_load(),
    )
