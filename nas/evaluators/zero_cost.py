"""Score candidates with zero-cost proxies: no supernet, nothing trained (issue 21).

``--evaluator zero-cost[:NAME|vote]``. Each candidate is built fresh (``create_subnet``),
initialised from the search's ``--supernet-seed`` (:func:`nas.supernet.proxies.default_init`,
so every process builds the same weights), and scored by a proxy of
:mod:`nas.supernet.proxies` on one fixed batch of training images at the scoring shape; its
latency is measured on ``--target`` exactly as the supernet evaluator's (the same cache).

The accuracy axis holds a *score*, not an accuracy. Raw proxy values live on very different
scales (parameter counts, synflow's 1e18, jacob_cov's negative log terms), and the rest of
the search wants a positive, bounded axis (the hypervolume's reference is 0, the MnasNet
objective multiplies it). So the raw value ``s`` is mapped, monotonically, to

    score = logistic((f(s) - mu) / sigma)  in (0, 1)

with ``f = log`` for proxies that span orders of magnitude (``ProxySpec.log_scale``) and the
identity otherwise, and ``mu``, ``sigma`` the mean and standard deviation of ``f`` over a fixed
*reference sample* of the space: :data:`REFERENCE_ARCHS` architectures drawn with the seed. A
single proxy's score orders candidates exactly as its raw value does. ``vote`` is the mean of
these scores over :data:`VOTE`, the proxies that rank NAS-Bench-201 best in the literature
(Mellor et al. 2021; Abdelfattah et al. 2021: synflow, naswot, jacob_cov): a rank-free
ensemble, each member standardised against the same reference sample, so a candidate's vote
depends on its architecture and the seed only, never on the other trials of the study (two
workers, or a resumed study, give it the same value). The raw values are stored with every
trial (``zero_cost``).
"""

from __future__ import annotations

import logging
import math
import random
import time

import numpy as np
import torch

from nas.data import Dataset
from nas.errors import OptionError
from nas.evaluators.base import CandidateError, Evaluation, Evaluator
from nas.evaluators.latency import LatencyMeter, measure_network
from nas.hardware import Target
from nas.spaces import Space
from nas.spaces.base import Arch
from nas.storage import keys
from nas.supernet import create_subnet
from nas.supernet.proxies import PROXIES, compute_proxy, default_init, proxy_spec

log = logging.getLogger(__name__)

VOTE = ("synflow", "naswot", "jacob_cov")
REFERENCE_ARCHS = 8  # the reference sample that standardises each proxy
BATCH_IMAGES = 64  # the one batch data-dependent proxies read (Mellor et al. use 128)


def parse_proxy(spec: str) -> str:
    """The proxy of ``zero-cost[:NAME|vote]`` (default ``vote``).

    Raises:
        OptionError: an unknown proxy name (the message lists the known ones).
    """
    _, _, name = spec.partition(":")
    name = name or "vote"
    if name != "vote" and name not in PROXIES:
        raise OptionError(
            f"unknown zero-cost proxy {name!r} in --evaluator {spec}; known proxies: "
            f"{', '.join(PROXIES)}, or vote"
        )
    return name


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


class ZeroCostEvaluator(Evaluator):
    """See the module docstring."""

    name = "zero-cost"

    def __init__(
        self,
        space: Space,
        data: Dataset,
        target: Target,
        latency: LatencyMeter,
        *,
        proxy: str = "vote",
        seed: int = 0,
    ) -> None:
        self.space, self.target, self.latency = space, target, latency
        self.proxy = proxy
        self.members = VOTE if proxy == "vote" else (proxy,)
        self.seed = seed
        self.num_classes = data.num_classes
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.permutation(len(data.y_train))[:BATCH_IMAGES])
        self.x = torch.from_numpy(data.x_train[idx])  # (B, C, H, W) at the scoring shape
        self.y = torch.from_numpy(data.y_train[idx]).long()
        self.fingerprint = target.fingerprint()
        self.fingerprint_id = target.fingerprint_id()
        self.reference = self._reference()

    def _network(self, arch: Arch) -> torch.nn.Module:
        return default_init(create_subnet(self.space, arch, self.num_classes), self.seed)

    def _raw(self, net: torch.nn.Module) -> dict[str, float]:
        return {n: compute_proxy(n, net, self.x, self.y, seed=self.seed) for n in self.members}

    def _transformed(self, name: str, raw: float) -> float:
        if not proxy_spec(name).log_scale:
            return raw
        return math.log(raw) if raw > 0 else -math.inf

    def _reference(self) -> dict[str, tuple[float, float]]:
        """``(mu, sigma)`` per member over the seeded reference sample (module docstring)."""
        t0 = time.perf_counter()
        rng = random.Random(self.seed)
        values: dict[str, list[float]] = {n: [] for n in self.members}
        for _ in range(REFERENCE_ARCHS):
            arch = self.space.sample(rng)
            try:
                raw = self._raw(self._network(arch))
            except (ArithmeticError, ValueError, RuntimeError) as exc:
                log.warning("reference architecture skipped: %s", exc)
                continue
            for n, v in raw.items():
                f = self._transformed(n, v)
                if math.isfinite(f):
                    values[n].append(f)
        out = {}
        for n, vs in values.items():
            mu = float(np.mean(vs)) if vs else 0.0
            sigma = float(np.std(vs, ddof=1)) if len(vs) > 1 else 0.0
            out[n] = (mu, sigma if sigma > 1e-12 else 1.0)
        log.info(
            "zero-cost reference (%d architectures, %.1f s): %s",
            REFERENCE_ARCHS,
            time.perf_counter() - t0,
            ", ".join(f"{n} mu={m:.4g} sigma={s:.3g}" for n, (m, s) in out.items()),
        )
        return out

    def score(self, raw: dict[str, float]) -> float:
        """The stored score in (0, 1) of raw proxy values (module docstring)."""
        parts = []
        for n, v in raw.items():
            mu, sigma = self.reference[n]
            parts.append(logistic((self._transformed(n, v) - mu) / sigma))
        return float(np.mean(parts))

    def evaluate(self, arch: Arch, arch_hash: str) -> Evaluation:
        t0 = time.perf_counter()
        net = self._network(arch)
        try:
            raw = self._raw(net)
        except (ArithmeticError, ValueError, RuntimeError) as exc:
            raise CandidateError(f"zero-cost proxy failed: {exc}") from exc
        acc = self.score(raw)
        attrs, latency_ms = measure_network(
            self.latency,
            arch,
            net.eval(),
            acc,
            fingerprint=self.fingerprint,
            fingerprint_id=self.fingerprint_id,
            eval_seconds=time.perf_counter() - t0,
        )
        attrs.update({keys.ZERO_COST: raw, keys.ZERO_COST_PROXY: self.proxy})
        return Evaluation(accuracy=acc, latency_ms=latency_ms, attrs=attrs)

    def observe(self, accuracy: float, latency_ms: float) -> None:
        self.latency.observe(accuracy, latency_ms)
