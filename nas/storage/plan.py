"""A study's plan as stored: its search options with every default resolved.

``nas search`` resolves every default once (:func:`nas.search.driver.make_plan`: the data set,
the evaluator, the supernet's epochs) and stores the whole resolved option set with the study
(:attr:`~nas.storage.studies.StudySettings.options`). That record is the one statement of how
the study was made: ``nas export``, ``nas show``, the dashboard and ``nas worker`` read it back
through :func:`stored_plan` and index it; none of them restates a default (a test,
tests/test_one_default.py, fails on a literal fallback for an option anywhere else).

A study stored by an earlier release may lack options that did not exist then. It is upgraded
on reading by :func:`stored_plan`, with the values that release *ran* with, which are not
today's defaults: before ``--train-images`` every training image was used, where today's
default takes 8,000; before the epochs were resolved from the data set's size the supernet
trained 20 epochs. Resolving an old study with today's defaults would rebuild another supernet
than the one that was trained (its checkpoint would not be found), so these values are stated
here, once, as facts about the old releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# What a study stored before an option existed ran with (see the module docstring). The
# options present since the first release that recorded options need no entry.
BEFORE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        # nas < the release that recorded options (11d195b): SearchOptions' defaults then
        "supernet_epochs": 20,
        "batch_size": 128,
        "calib_batches": 4,
        # before --train-images, --val-images and --latency-input: every image, one shape
        "train_images": None,
        "val_images": None,
        "latency_input": None,
    }
)


def stored_plan(options: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved options a study was made with: ``options`` as stored, completed for a
    study of an earlier release (:data:`BEFORE_OPTIONS`; ``space``, ``data``, ``seed`` and
    ``evaluator`` from the study's other ``settings``; ``supernet_seed`` is ``seed``, with
    which the supernet trained before ``--supernet-seed`` existed).

    Every key a reader indexes is present in the result; the stored paths are as stored
    (relative to the database's folder, :func:`nas.storage.paths.local_options`).
    """
    plan = {**BEFORE_OPTIONS, **options}
    for key in ("space", "data", "seed", "evaluator"):
        if plan.get(key) in (None, "") and settings.get(key) not in (None, ""):
            plan[key] = settings[key]
    plan.setdefault("supernet_seed", plan.get("seed"))
    return plan
