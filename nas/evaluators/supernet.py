"""Score candidates with weights inherited from a trained supernet.

Per candidate: extract the standalone network, re-estimate its BatchNorm statistics on fixed
training batches, measure validation accuracy, then measure latency *of the extracted network*
on the target at the space's latency input shape (or take it from the cache).
"""

from __future__ import annotations

import logging
import math
import time

from nas.data import Dataset
from nas.evaluators.base import Evaluation, Evaluator
from nas.evaluators.latency import LatencyMeter, measure_network
from nas.hardware import Target
from nas.spaces import Space
from nas.spaces.base import Arch
from nas.storage import keys
from nas.storage.latency_cache import LatencyCache
from nas.supernet import Supernet
from nas.supernet.score import calibration_batches, extract_scored

log = logging.getLogger(__name__)


def accuracy_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` images (binomial)."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / max(n, 1))


class SupernetEvaluator(Evaluator):
    name = "supernet"

    def __init__(
        self,
        space: Space,
        supernet: Supernet,
        data: Dataset,
        target: Target,
        *,
        cache: LatencyCache | None = None,
        calib_batches: int = 4,
        calib_batch_size: int = 128,
        seed: int = 0,
        latency: LatencyMeter | None = None,
    ) -> None:
        self.space = space
        self.supernet = supernet.eval()
        self.data = data
        self.target = target
        self.cache = cache
        self.calib = calibration_batches(
            data.x_train, n_batches=calib_batches, batch_size=calib_batch_size, seed=seed
        )
        self.fingerprint = target.fingerprint()
        self.fingerprint_id = target.fingerprint_id()
        self.shape = space.latency_input.shape
        self.latency = latency or LatencyMeter(
            space, target, cache=cache, num_classes=data.num_classes
        )

    def observe(self, accuracy: float, latency_ms: float) -> None:
        self.latency.observe(accuracy, latency_ms)

    def evaluate(self, arch: Arch, arch_hash: str) -> Evaluation:
        t0 = time.perf_counter()
        sub, acc = extract_scored(
            self.supernet, arch, self.calib, self.data.x_val, self.data.y_val
        )
        attrs, latency_ms = measure_network(
            self.latency,
            arch,
            sub,
            acc,
            fingerprint=self.fingerprint,
            fingerprint_id=self.fingerprint_id,
            eval_seconds=time.perf_counter() - t0,
        )
        n_val = len(self.data.y_val)
        attrs.update({keys.ACCURACY_SE: accuracy_se(acc, n_val), keys.VAL_IMAGES: n_val})
        return Evaluation(accuracy=acc, latency_ms=latency_ms, attrs=attrs)
