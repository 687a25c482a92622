"""How well does a scorer rank architectures like training does? (a scorer leaderboard)

A *scorer* gives every architecture of a reference set (:mod:`nas.analysis.reference`) a
number, higher meaning "predicted more accurate": the supernet's inherited accuracy, the
parameter count, FLOPs, a zero-cost proxy, an ensemble. Against the set's standalone
accuracies (the mean over seeds) each scorer gets:

- Kendall's tau and Spearman's rho, each with a 95 % percentile-bootstrap interval
  (architectures resampled with replacement; Efron & Tibshirani 1993), so two scorers are
  compared with their noise: over 40 architectures tau has a standard error near 0.11;
- tau within the true top 20 % (does it order the architectures a search ends up choosing
  between?) and precision at the top 10 % (the share of the true best 10 % that the scorer
  also puts in its best 10 %; NAS-Bench-Suite-Zero, Krishnakumar et al. 2022);
- the seconds it costs per candidate.

The *seed-to-seed ceiling* is the same statistics between two seeds of training itself: no
scorer can be expected to agree with the mean of training better than training agrees with
itself. Pure numpy/scipy, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, rankdata, spearmanr

N_BOOT = 2000


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class ScorerRow:
    """One scorer's line of the leaderboard."""

    name: str
    n: int
    tau: Interval
    rho: Interval
    top_tau: float  # tau within the true top ``top_frac``
    precision: float  # precision at the top ``prec_frac``
    seconds: float | None  # per candidate; None where it is not a cost of scoring


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    t = kendalltau(a, b).statistic
    return float(t) if t == t else 0.0  # NaN (a constant sample) counts as no agreement


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    r = spearmanr(a, b).statistic
    return float(r) if r == r else 0.0


def bootstrap(
    score: Sequence[float], truth: Sequence[float], stat: str = "tau", *, seed: int = 0
) -> Interval:
    """``stat`` (``tau`` or ``rho``) of ``score`` against ``truth`` with its 95 % percentile
    bootstrap interval over ``N_BOOT`` resamples of the architectures."""
    fn = _tau if stat == "tau" else _rho
    s, t = np.asarray(score, float), np.asarray(truth, float)
    if len(s) != len(t) or len(s) < 3:
        raise ValueError(f"need two equally long samples of at least 3, got {len(s)}, {len(t)}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(s), size=(N_BOOT, len(s)))
    boots = np.array([fn(s[i], t[i]) for i in idx])
    low, high = np.percentile(boots, [2.5, 97.5])
    return Interval(fn(s, t), float(low), float(high))


def top_tau(score: Sequence[float], truth: Sequence[float], frac: float = 0.2) -> float:
    """Kendall's tau among the architectures in the true top ``frac`` (at least 3 of them)."""
    s, t = np.asarray(score, float), np.asarray(truth, float)
    k = max(3, math.ceil(frac * len(t)))
    top = np.argsort(-t, kind="stable")[:k]
    return _tau(s[top], t[top])


def precision_at(score: Sequence[float], truth: Sequence[float], frac: float = 0.1) -> float:
    """The share of the true top ``frac`` that the scorer's top ``frac`` holds (ties in the
    scorer broken against it: a scorer that says nothing finds nothing)."""
    s, t = np.asarray(score, float), np.asarray(truth, float)
    k = max(1, math.ceil(frac * len(t)))
    true_top = set(np.argsort(-t, kind="stable")[:k].tolist())
    # lexsort: by score descending, ties by true accuracy ascending (the pessimistic order)
    order = np.lexsort((t, -s))[:k]
    return len(true_top & set(order.tolist())) / k


def rank_ensemble(*scores: Sequence[float]) -> np.ndarray:
    """The mean of each scorer's ranks (1 = lowest): a rank vote that needs no common scale
    (Abdelfattah et al. 2021 vote; few-shot NAS + parameters in Zhao et al. 2021)."""
    if not scores:
        raise ValueError("an ensemble needs at least one scorer")
    return np.mean([rankdata(np.asarray(s, float)) for s in scores], axis=0)


def evaluate(
    name: str,
    score: Sequence[float],
    truth: Sequence[float],
    *,
    seconds: float | None = None,
    seed: int = 0,
) -> ScorerRow:
    """All the leaderboard's statistics of one scorer."""
    return ScorerRow(
        name=name,
        n=len(truth),
        tau=bootstrap(score, truth, "tau", seed=seed),
        rho=bootstrap(score, truth, "rho", seed=seed),
        top_tau=top_tau(score, truth),
        precision=precision_at(score, truth),
        seconds=seconds,
    )


def markdown(rows: Sequence[ScorerRow]) -> str:
    """The leaderboard as a Markdown table, best tau first."""
    lines = [
        "| scorer | n | Kendall tau [95 % CI] | Spearman rho [95 % CI] | tau top 20 % | "
        "precision top 10 % | s / candidate |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: -r.tau.value):
        secs = "-" if r.seconds is None else f"{r.seconds:.3g}"
        lines.append(
            f"| {r.name} | {r.n} | {r.tau.text()} | {r.rho.text()} | {r.top_tau:.2f} | "
            f"{r.precision:.2f} | {secs} |"
        )
    return "\n".join(lines)
