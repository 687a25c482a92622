"""Profiling a table, fitting and validating its predictor, and loading it for a search.

Everything here measures on a target and keeps what it measured in the database through
:class:`nas.storage.latency_lut.LatencyTableStore` (table entries and fits) and
:class:`nas.storage.latency_cache.LatencyCache` (end-to-end measurements of searches).

A fit is measured on ``samples`` networks (the largest, the smallest, random ones) and then
judged on ``holdout`` other random networks that the fit did not see
(:class:`~nas.storage.latency_lut.Validation`). A fit that fails is not stored and raises
:class:`FitRefused`; a stored fit carries its figures, and one stored without them (before
validation existed) is refused where a search would use it. A refused fit stores nothing, not
even the table entries measured for it: a table measured on a busy machine is worth nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from nas.errors import NasInputError
from nas.hardware.lut.layers import all_specs, build_layer, lut_key
from nas.hardware.lut.predictor import (
    Correction,
    LatencyPredictor,
    fit_correction,
    validate,
)
from nas.hardware.target import Target
from nas.spaces import Space
from nas.spaces.base import Arch, Value
from nas.storage import Store
from nas.storage.latency_cache import LatencyCache
from nas.storage.latency_lut import DEFAULT_HOLDOUT, LatencyTableStore, Validation

log = logging.getLogger(__name__)

DEFAULT_FIT_SAMPLES = 10
_HOLDOUT_SEED = 1_000_003  # added to the fit's seed: held-out networks are other networks
_REDO = (
    "run `nas hardware profile --reprofile` with the same --space and --target on a quiet "
    "machine (or with --clock cpu --threads 1), or search with --latency measured"
)


class FitRefused(NasInputError):
    """A latency predictor that failed its validation, or has none; the message says why."""


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
def _measure_layers(
    space: Space,
    target: Target,
    num_classes: int,
    known: Mapping[str, float],
    on_entry: Callable[[int, int, str, float], None] | None,
) -> dict[str, dict[str, Any]]:
    """``key -> stats`` of every layer of the space not in ``known``, measured now."""
    todo = [s for s in all_specs(space, num_classes) if lut_key(s) not in known]
    out: dict[str, dict[str, Any]] = {}
    for i, spec in enumerate(todo, 1):
        key = lut_key(spec)
        out[key] = target.measure(build_layer(space, spec), spec.input_shape).to_dict()
        if on_entry is not None:
            on_entry(i, len(todo), key, float(out[key]["median_ms"]))
    return out


def _whole(space: Space, num_classes: int, known: Mapping[str, float], new: Mapping) -> dict:
    merged = {**known, **{k: float(v["median_ms"]) for k, v in new.items()}}
    return {lut_key(s): merged[lut_key(s)] for s in all_specs(space, num_classes)}


def profile_table(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    on_entry: Callable[[int, int, str, float], None] | None = None,
) -> dict[str, float]:
    """Measure and store every layer of the space not yet in the stored table; the whole table.

    ``on_entry(done, total, key, median_ms)`` is called after each new measurement. (A table
    without a validated fit is not used by anything: :func:`fit_predictor` is the way to make
    one a search can use, and stores nothing when its fit is refused.)
    """
    lut = LatencyTableStore(store)
    fid, fp = target.fingerprint_id(), target.fingerprint()
    known = lut.entries(space.digest, fid)
    new = _measure_layers(space, target, num_classes, known, on_entry)
    for key, stats in new.items():
        lut.put(space.digest, fid, key, stats, fp)
    return _whole(space, num_classes, known, new)


def sample_archs(
    space: Space,
    n: int,
    seed: int,
    *,
    extremes: bool = True,
    exclude: frozenset[str] = frozenset(),
) -> list[Arch]:
    """``n`` distinct architectures (fewer if the space has no more) whose hashes are not in
    ``exclude``: uniformly random ones, after the largest and smallest when ``extremes`` (they
    span the range a linear fit needs)."""
    rng = random.Random(seed)
    archs: dict[str, Arch] = {}
    makers = [getattr(space, "largest", None), getattr(space, "smallest", None)]
    for make in makers if extremes else []:
        if make is not None and len(archs) < n:
            a = make()
            if space.hash(a) not in exclude:
                archs[space.hash(a)] = a
    tries = 0
    while len(archs) < n and tries < 100 * n:
        a = space.sample(rng)
        if space.hash(a) not in exclude:
            archs.setdefault(space.hash(a), a)
        tries += 1
    return list(archs.values())


# ---- fitting and validating ---------------------------------------------------------------
def refusal(space: Space, target: Target, v: Validation) -> str:
    """The one line that refuses a fit whose validation ``v`` fails."""
    load = "" if v.load is None else f" (machine load {v.load:.1f})"
    return (
        f"latency predictor of {space.name} on {target.name} refused: on {v.n} held-out "
        f"networks{load} {'; '.join(v.failures())}, so the table does not describe this "
        f"machine; {_REDO}"
    )


def _fit_and_holdout(
    space: Space, samples: int, holdout: int, seed: int
) -> tuple[list[Arch], list[Arch]]:
    """The networks the correction is fitted on (the extremes among them) and ``holdout``
    others, none of them a fitted one, that validate it."""
    fit_archs = sample_archs(space, samples, seed)
    fit_hashes = frozenset(space.hash(a) for a in fit_archs)
    held = sample_archs(space, holdout, seed + _HOLDOUT_SEED, extremes=False, exclude=fit_hashes)
    return fit_archs, held


def fit_predictor(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    samples: int = DEFAULT_FIT_SAMPLES,
    holdout: int = DEFAULT_HOLDOUT,
    seed: int = 0,
    on_entry: Callable[[int, int, str, float], None] | None = None,
    on_sample: Callable[[int, int], None] | None = None,
    fresh: bool = False,
) -> LatencyPredictor:
    """Measure the layers missing from the stored table, fit the correction on ``samples``
    end-to-end measurements, validate it on ``holdout`` other networks, and only then store
    the new entries and the fit with its figures.

    ``fresh`` measures the whole table again; the stored one and its fits are replaced only
    when the new fit passes. The networks are measured afresh (not read from the latency cache,
    which may hold numbers from another hour of the machine), and nothing they measure is
    cached. ``on_entry`` and ``on_sample(done, total)`` report progress.

    Raises:
        FitRefused: the fit fails its validation; nothing at all is stored.
    """
    lut = LatencyTableStore(store)
    fid = target.fingerprint_id()
    known = {} if fresh else lut.entries(space.digest, fid)
    new = _measure_layers(space, target, num_classes, known, on_entry)
    table = _whole(space, num_classes, known, new)
    bare = LatencyPredictor(space, table, Correction(), num_classes)
    fit_archs, held = _fit_and_holdout(space, samples, holdout, seed)
    archs = fit_archs + held
    measured = _measure_networks(space, archs, target, num_classes, on_sample)
    sums = [bare.table_sum(a) for a in archs]
    n = len(fit_archs)
    corr = fit_correction(sums[:n], measured[:n])
    held_predicted = [corr.apply(s) for s in sums[n:]]
    v = validate(held_predicted, measured[n:])
    if v.failures():
        raise FitRefused(refusal(space, target, v))
    if fresh:
        lut.drop(space.digest, fid)
    fp = target.fingerprint()
    for key, stats in new.items():
        lut.put(space.digest, fid, key, stats, fp)
    meta = {
        "floor_ratio": corr.floor_ratio,
        "arch_hashes": [space.hash(a) for a in fit_archs],
        "table_sums_ms": sums[:n],
        "measured_ms": measured[:n],
        "validation": v.to_dict(),
        "holdout_hashes": [space.hash(a) for a in held],
        "holdout_predicted_ms": held_predicted,
        "holdout_measured_ms": measured[n:],
    }
    lut.put_fit(space.digest, fid, num_classes, a=corr.a, b=corr.b, n=corr.n, meta=meta)
    return LatencyPredictor(space, table, corr, num_classes, v)


def _measure_networks(
    space: Space,
    archs: list[Arch],
    target: Target,
    num_classes: int,
    on_sample: Callable[[int, int], None] | None,
) -> list[float]:
    """The median latency of each network, measured afresh (no cache), in order."""
    measured = []
    for i, arch in enumerate(archs, 1):
        stats, _ = measure_arch(space, arch, target, num_classes, None)
        measured.append(float(stats["median_ms"]))
        if on_sample is not None:
            on_sample(i, len(archs))
    return measured


def load_predictor(
    store: Store,
    space: Space,
    target: Target,
    num_classes: int,
    *,
    fit_samples: int = DEFAULT_FIT_SAMPLES,
    holdout: int = DEFAULT_HOLDOUT,
    seed: int = 0,
    on_message: Callable[[str], None] | None = None,
    require_validation: bool = True,
    profile: bool = True,
) -> LatencyPredictor:
    """The stored predictor; profiles the table and fits (and validates) it first if missing
    (with ``profile``; else a missing table or fit is refused).

    Raises:
        FitRefused: a new fit fails its validation, or (with ``require_validation``) the
            stored fit has no validation figures or figures that fail today's thresholds, or
            (without ``profile``) there is no stored table or fit.
    """
    say = on_message or (lambda _msg: None)
    lut = LatencyTableStore(store)
    fid = target.fingerprint_id()
    table = lut.entries(space.digest, fid)
    keys_needed = [lut_key(s) for s in all_specs(space, num_classes)]
    missing = [k for k in keys_needed if k not in table]
    fit = lut.fit(space.digest, fid, num_classes)
    if (missing or fit is None) and not profile:
        raise FitRefused(
            f"no latency predictor of space {space.name!r} on {target.name} ({fid}) is stored "
            f"in this database ({len(missing)} of {len(keys_needed)} table entries missing): "
            f"make one with nas hardware profile --space {space.name} --target {target.name}"
        )
    if missing or fit is None:
        if missing:
            say(f"profiling the latency lookup table: {len(missing)} layers on {target.name}")
        say(
            f"fitting the latency predictor on {fit_samples} end-to-end measurements, "
            f"validating it on {holdout} more"
        )
        return fit_predictor(
            store, space, target, num_classes, samples=fit_samples, holdout=holdout, seed=seed
        )
    meta = fit["meta"]
    floor = float(meta.get("floor_ratio", 0.0))
    corr = Correction(float(fit["a"]), float(fit["b"]), int(fit["n"]), floor)
    v = Validation.from_dict(meta.get("validation") or {})
    if require_validation and v is None:
        raise FitRefused(
            f"the stored latency predictor of {space.name} on {target.name} has no validation "
            f"figures (it was fitted before fits were validated); {_REDO}"
        )
    if require_validation and v is not None and v.failures():
        raise FitRefused(refusal(space, target, v))
    return LatencyPredictor(space, {k: table[k] for k in keys_needed}, corr, num_classes, v)
