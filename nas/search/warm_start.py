"""Warm start: pre-screen a pool of random architectures with a training-free proxy and enqueue
the best of them as a sampler search's first trials (``--warm-start PROXY[:POOL]``, issue 21).

The idea is zero-cost warm-starting (Abdelfattah et al., "Zero-Cost Proxies for Lightweight
NAS", ICLR 2021, section 5: a proxy pre-screens a large pool and the search starts from the
best; the proxies are those of :mod:`nas.supernet.proxies`). Here the pre-screen is
hardware-aware:

1. draw ``POOL`` distinct architectures uniformly from the space with the search's ``--seed``
   (all of them where the space has no more);
2. score each with a *data-free* proxy (``params``, ``flops``, ``synflow``, ``zen``), on its
   network built fresh and initialised from the seed (:func:`~nas.supernet.proxies.default_init`,
   as the zero-cost evaluator does), at the space's scoring shape. A proxy is computed from the
   architecture, never read from a table: on a tabular benchmark it would be the answer;
3. give each a *cheap latency*: the table's latency column where the search's evaluator is a
   table with one, the latency predictor where ``--latency predicted|hybrid`` fitted one, else
   the network's FLOPs as a stand-in (timing thousands of networks would cost more than the
   search). The study records which (:func:`latency_source`);
4. keep the non-dominated set of (proxy score up, latency down), one architecture per distinct
   (score, latency) pair; where it is larger than the
   first generation (NSGA-II's population for the budget, :func:`size_for`), thin it to points
   evenly spaced along latency, both ends kept; where it is smaller, add the next fronts;
5. enqueue them (``optuna.Study.enqueue_trial``) after the space's anchors, and record the
   pre-screen in the study (``warm_start``), so a resumed study, or a worker joining it, does
   not screen or enqueue again.

The enqueued trials count in the budget like any other and are evaluated by the study's real
evaluator; the proxy only decides where the search starts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas import limits
from nas.errors import OptionError
from nas.pareto import front_mask_2d
from nas.storage import keys

if TYPE_CHECKING:
    import optuna

    from nas.evaluators.factory import EvaluatorPlan
    from nas.reporting import Reporter
    from nas.spaces import Space
    from nas.spaces.base import Arch

log = logging.getLogger(__name__)

# the data-free proxies of nas.supernet.proxies (tests check they are registered and data-free)
WARM_START_PROXIES = ("params", "flops", "synflow", "zen")
DEFAULT_POOL = 5_000
ZEN_BATCH = 16  # Gaussian images per zen pass (BatchNorm needs a batch; benchmarks/bench_macro.py)


@dataclass(frozen=True)
class WarmStartSpec:
    """A parsed ``--warm-start PROXY[:POOL]``."""

    proxy: str
    pool: int = DEFAULT_POOL

    @property
    def text(self) -> str:
        return f"{self.proxy}:{self.pool}"

    @classmethod
    def parse(cls, text: str) -> WarmStartSpec:
        """Raises: OptionError, one line naming the flag and the bad value."""
        proxy, sep, pool = text.partition(":")
        if proxy not in WARM_START_PROXIES:
            raise OptionError(
                f"--warm-start: unknown proxy {limits.shorten(proxy)}; the pre-screen takes a "
                f"data-free proxy: {', '.join(WARM_START_PROXIES)}"
            )
        if not sep:
            return cls(proxy)
        try:
            size = int(pool)
        except ValueError:
            raise OptionError(
                f"--warm-start {limits.shorten(text)}: the pool after ':' must be a whole "
                "number of architectures"
            ) from None
        if not 1 <= size <= limits.MAX_WARM_START_POOL:
            raise OptionError(
                f"--warm-start: the pool must be 1 to {limits.MAX_WARM_START_POOL:,} "
                f"architectures, got {size}"
            )
        return cls(proxy, size)


def size_for(budget: int) -> int:
    """How many pre-screened architectures a search of ``budget`` trials starts from: NSGA-II's
    first generation for that budget (whatever the strategy: one size, so strategies compare)."""
    from nas.strategies.optuna_samplers import nsga2_population

    return nsga2_population(budget)


def draw_pool(space: Space, size: int, seed: int) -> list[Arch]:
    """``size`` distinct architectures drawn uniformly with ``seed`` (every one of the space
    where it has at most ``size``: then in a seeded order)."""
    from nas.strategies.no_repeat import countable_size

    rng = random.Random(seed)
    countable = countable_size(space)
    if countable is not None and countable <= size:
        every = {space.hash(a): space.canonical(a) for a in space._enumerate()}
        archs = [every[h] for h in sorted(every)]
        rng.shuffle(archs)
        return archs
    seen: dict[str, Arch] = {}
    tries = 0
    while len(seen) < size and tries < 20 * size:  # a space with fewer distinct than it counts
        arch = space.sample(rng)
        seen.setdefault(space.hash(arch), arch)
        tries += 1
    return list(seen.values())


def select(scores: Sequence[float], latencies: Sequence[float], k: int) -> list[int]:
    """Indices of the ``k`` points to start from (step 4 of the module docstring), fronts in
    order, each front by latency. Points with a non-finite score or latency are never taken,
    nor a second point with the same score and latency as one before it."""
    s, lat = np.asarray(scores, dtype=float), np.asarray(latencies, dtype=float)
    ok = np.flatnonzero(np.isfinite(s) & np.isfinite(lat))
    # one of each (score, latency): the pre-screen cannot tell such architectures apart, so a
    # second one adds nothing it knows (NAS-Bench-201 has hundreds of disconnected cells, all
    # with latency 0 and the same parameter count)
    _, first = np.unique(np.stack([s[ok], lat[ok]], axis=1), axis=0, return_index=True)
    left = ok[np.sort(first)]
    chosen: list[int] = []
    while len(chosen) < k and len(left):
        mask = front_mask_2d(s[left], lat[left])
        front = left[mask]
        front = front[np.lexsort((-s[front], lat[front]))]  # by latency, then score
        need = k - len(chosen)
        if len(front) > need:  # evenly spaced along latency, both ends kept
            front = front[np.unique(np.round(np.linspace(0, len(front) - 1, need)).astype(int))]
        chosen += [int(i) for i in front]
        left = left[~mask]
    return chosen


class PoolScorer:
    """Scores architectures with a data-free proxy on freshly built, seeded networks; also
    their FLOPs (the latency stand-in) on the same network."""

    def __init__(self, space: Space, proxy: str, *, num_classes: int, seed: int) -> None:
        from nas.supernet.proxies import proxy_spec

        spec = proxy_spec(proxy)
        if not spec.data_free:
            raise OptionError(f"--warm-start: proxy {proxy!r} needs data; use a data-free one")
        self.space, self.proxy, self.num_classes, self.seed = space, proxy, num_classes, seed
        c, h, w = space.scoring_input.shape[1:]
        self.shape = (ZEN_BATCH if proxy == "zen" else 1, c, h, w)

    def score(self, arch: Arch, *, flops: bool = False) -> tuple[float, float]:
        """``(proxy score, FLOPs or nan)`` of ``arch``; a network a proxy cannot score (synflow
        overflowing) gets ``-inf`` and is never selected."""
        from nas.supernet import create_subnet
        from nas.supernet.proxies import compute_proxy, default_init
        from nas.supernet.seeding import seeded

        with seeded(self.seed):  # the global RNG is left alone; default_init re-draws below
            net = create_subnet(self.space, arch, self.num_classes)
        if self.proxy not in ("params", "flops"):  # the two that do not read the weights
            default_init(net, self.seed)
        f = float("nan")
        if flops or self.proxy == "flops":  # first: the proxy below may change the network
            f = compute_proxy("flops", net, None, None, input_shape=self.shape, copy_net=False)
        if self.proxy == "flops":
            return f, f
        try:  # the network was built to be scored: no private copy
            value = compute_proxy(
                self.proxy, net, None, None, seed=self.seed, input_shape=self.shape, copy_net=False
            )
        except (ArithmeticError, ValueError, RuntimeError) as exc:
            log.debug("warm start: %s not scored: %s", self.space.describe(arch), exc)
            value = float("-inf")
        return value, f


LatencyFn = Callable[["Arch"], float]


def latency_source(plan: EvaluatorPlan, space: Space) -> tuple[str, LatencyFn | None]:
    """The pre-screen's cheap latency for a search's evaluator (step 3 of the module
    docstring): ``(what it is, function)``; ``None``: the FLOPs stand-in."""
    from nas.evaluators.table import TableEvaluator

    table = plan.prebuilt
    if isinstance(table, TableEvaluator) and table.spec.latency_column is not None:
        column = table.spec.latency_column

        def from_table(arch: Arch) -> float:
            row = table.rows.get(space.describe(arch))
            value = None if row is None else row.get(column)
            return float(value) if value is not None else float("nan")

        return f"table column {column}", from_table
    if plan.predictor is not None:
        return "latency predictor", plan.predictor.predict
    return "FLOPs (stand-in for latency)", None


@dataclass(frozen=True)
class Prescreen:
    """What a pre-screen found: the picks (in enqueue order) and how it was made."""

    picks: list[Arch]
    pool: int  # architectures scored
    latency: str  # where the pre-screen's latency came from
    seconds: float


def prescreen(
    space: Space,
    spec: WarmStartSpec,
    *,
    k: int,
    seed: int,
    num_classes: int,
    latency: tuple[str, LatencyFn | None],
) -> Prescreen:
    """Steps 1-4 of the module docstring: the ``k`` architectures a search starts from."""
    t0 = time.perf_counter()
    scorer = PoolScorer(space, spec.proxy, num_classes=num_classes, seed=seed)
    archs = draw_pool(space, spec.pool, seed)
    what, fn = latency
    scores, lats = [], []
    for arch in archs:
        value, flops = scorer.score(arch, flops=fn is None)
        scores.append(value)
        lats.append(flops if fn is None else fn(arch))
    picks = [archs[i] for i in select(scores, lats, k)]
    return Prescreen(picks, len(archs), what, time.perf_counter() - t0)


def enqueue(
    study: optuna.Study,
    space: Space,
    spec: WarmStartSpec,
    *,
    budget: int,
    seed: int,
    num_classes: int,
    latency: tuple[str, LatencyFn | None],
    reporter: Reporter,
) -> Prescreen | None:
    """Pre-screen and enqueue the picks as the study's next trials, once per study (step 5).

    Returns ``None`` (and does nothing) when the study already records a warm start, or has
    evaluated trials already (a resumed study is never warm-started afterwards).
    """
    from optuna.trial import TrialState

    if keys.WARM_START in study.user_attrs:
        return None
    if any(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False)):
        log.warning(
            "--warm-start ignored: study %s has evaluated trials already", study.study_name
        )
        return None
    waiting = len(study.get_trials(deepcopy=False))  # the anchors
    k = max(0, min(size_for(budget), budget - waiting))
    reporter.message(
        f"warm start: scoring {spec.pool:,} random architectures with {spec.proxy} ..."
    )
    screen = prescreen(space, spec, k=k, seed=seed, num_classes=num_classes, latency=latency)
    for arch in screen.picks:  # skip_if_exists: a crash before the record below re-enqueues
        study.enqueue_trial(space.to_params(arch), skip_if_exists=True)
    record: dict[str, Any] = {
        "proxy": spec.proxy,
        "pool": screen.pool,
        "latency": screen.latency,
        "picks": [space.hash(a) for a in screen.picks],
        "seconds": round(screen.seconds, 3),
    }
    study.set_user_attr(keys.WARM_START, record)
    reporter.message(
        f"warm start: {len(screen.picks)} of {screen.pool:,} architectures enqueued "
        f"({spec.proxy} up, {screen.latency} down; {screen.seconds:.1f} s)"
    )
    return screen
