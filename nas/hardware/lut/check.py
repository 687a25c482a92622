"""``nas hardware validate``: a stored predictor judged on networks it was not fitted on.

The same figures as a fit's own validation (:func:`~nas.hardware.lut.predictor.validate`),
plus nn-Meter's metrics, on ``samples`` other random networks; with ``passes >= 2`` each is
measured several times, interleaved, and the agreement of the passes says how well the machine
can rank the networks at all (the ceiling of any predictor's tau).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nas.hardware.lut.build import measure_arch, sample_archs
from nas.hardware.lut.predictor import (
    LatencyPredictor,
    Quality,
    pass_agreement,
    quality,
    validate,
)
from nas.hardware.target import Target
from nas.storage.latency_cache import LatencyCache
from nas.storage.latency_lut import Validation

_CHECK_SEED = 2_000_003  # added to the seed: other networks than the fit's and its hold-out's


@dataclass(frozen=True)
class Check:
    """Predictions against measurements of ``len(predicted)`` networks."""

    predicted: list[float]
    passes: list[list[float]]  # measurements, one list per pass
    measured: list[float]  # the median per network over the passes
    quality: Quality
    validation: Validation  # the figures a new fit would be judged by
    agreement: float | None  # median Kendall tau between passes (two passes or more)


def fit_summary(pred: LatencyPredictor) -> str:
    """The stored fit and its validation figures, or why a search refuses it."""
    c, v = pred.correction, pred.validation
    line = f"{c.a:.4f} * sum + {c.b:.3f} ms from {c.n} end-to-end measurements, "
    if v is None:
        return line + (
            "no validation figures (fitted before fits were validated; searches refuse it: "
            "run `nas hardware profile --reprofile`)"
        )
    failed = v.failures()
    return line + v.summary() + (f"; searches refuse it: {'; '.join(failed)}" if failed else "")


def check_predictor(
    pred: LatencyPredictor,
    target: Target,
    cache: LatencyCache | None,
    *,
    samples: int,
    passes: int = 1,
    seed: int = 0,
    on_measure: Callable[[int, int, int, float, float], None] | None = None,
) -> Check:
    """Measure ``samples`` random networks in ``passes`` interleaved passes and compare.

    Only the first pass reads and fills ``cache``. ``on_measure(pass, i, n, predicted_ms,
    measured_ms)`` is called after each measurement (``pass`` and ``i`` from 1).
    """
    import numpy as np

    space = pred.space
    archs = sample_archs(space, samples, seed=seed + _CHECK_SEED, extremes=False)
    predicted = [pred.predict(a) for a in archs]
    # Passes are interleaved (every architecture once, then again), so a disturbed minute on
    # a shared machine touches one measurement of several networks, not all of one network's.
    runs: list[list[float]] = []
    for p in range(passes):
        runs.append([])
        for i, arch in enumerate(archs, 1):
            stats, _ = measure_arch(
                space, arch, target, pred.num_classes, cache if p == 0 else None
            )
            runs[-1].append(float(stats["median_ms"]))
            if on_measure is not None:
                on_measure(p + 1, i, len(archs), predicted[i - 1], runs[-1][-1])
    measured = [float(np.median(m)) for m in zip(*runs, strict=True)]
    return Check(
        predicted,
        runs,
        measured,
        quality(predicted, measured),
        validate(predicted, measured),
        pass_agreement(runs) if passes > 1 else None,
    )
