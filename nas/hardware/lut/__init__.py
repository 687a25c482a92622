"""The latency lookup table: its rows, profiling, the predictor, its fit and its validation.

One package owns the table (FBNet / Once-for-All): :mod:`.layers` says which layers a chain
space's networks consist of and names them (:func:`lut_key`); :mod:`.predictor` holds the
correction fit, the quality metrics and the thresholds a fit must pass on held-out networks;
:mod:`.build` measures on a target, profiles, fits, validates and loads, keeping everything in
the database through :class:`nas.storage.latency_lut.LatencyTableStore`; :mod:`.check` judges
a stored predictor on other networks (``nas hardware validate``). Commands and
evaluators call these; nothing else measures tables or fits predictors.
"""

from __future__ import annotations

from nas.hardware.lut.build import (
    DEFAULT_FIT_SAMPLES,
    FitRefused,
    fit_predictor,
    load_predictor,
    measure_arch,
    profile_table,
    refusal,
    sample_archs,
)
from nas.hardware.lut.check import Check, check_predictor, fit_summary
from nas.hardware.lut.layers import LayerSpec, all_specs, build_layer, layer_specs, lut_key
from nas.hardware.lut.predictor import (
    Correction,
    LatencyPredictor,
    Quality,
    fit_correction,
    pass_agreement,
    quality,
    validate,
)
from nas.storage.latency_lut import (
    DEFAULT_HOLDOUT,
    MAX_MEDIAN_REL_ERROR,
    MAX_REL_ERROR,
    MIN_HOLDOUT,
    MIN_KENDALL_TAU,
    Validation,
)

__all__ = [
    "DEFAULT_FIT_SAMPLES",
    "DEFAULT_HOLDOUT",
    "MAX_MEDIAN_REL_ERROR",
    "MAX_REL_ERROR",
    "MIN_HOLDOUT",
    "MIN_KENDALL_TAU",
    "Check",
    "Correction",
    "FitRefused",
    "LatencyPredictor",
    "LayerSpec",
    "Quality",
    "Validation",
    "all_specs",
    "build_layer",
    "check_predictor",
    "fit_correction",
    "fit_predictor",
    "fit_summary",
    "layer_specs",
    "load_predictor",
    "lut_key",
    "measure_arch",
    "pass_agreement",
    "profile_table",
    "quality",
    "refusal",
    "sample_archs",
    "validate",
]
