"""Read a study's trials with a few plain SQL queries instead of Optuna's ORM.

``study.get_trials()`` on an RDB storage builds ORM objects and parses a distribution per
parameter row: about 30 s for a 5,000-trial study of the mobile space on a busy 2-core machine.
Readers that only look (the dashboard, reports) load the same ``FrozenTrial`` objects here in a
fraction of that: four queries, one pass each, distributions parsed once per distinct JSON.

The queries (in :mod:`nas.storage.optuna_compat`, with every other use of Optuna's internals)
read Optuna's tables, whose columns have been stable since Optuna 2; a test compares the result
with Optuna's own loader, field by field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.trial import FrozenTrial, TrialState

from nas import pareto
from nas.errors import StorageError
from nas.limits import shorten
from nas.storage import keys
from nas.storage.db import Store
from nas.storage.optuna_compat import (
    StudyRows,
    complete_points,
    some_trial_rows,
    study_head,
    study_rows,
    study_token,
    trial_rows_where,
)


@lru_cache(maxsize=4096)
def _distribution(text_: str) -> BaseDistribution:
    return json_to_distribution(text_)


def _when(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))


def load_trials(
    store: Store, study_name: str, *, params: bool = True, last_complete: int | None = None
) -> list[FrozenTrial]:
    """Every trial of ``study_name`` in number order, as Optuna would return them.

    System attributes and intermediate values are left empty (nas keeps its results in user
    attributes); ``params=False`` skips the parameters too; ``last_complete=N`` reads only
    from the N-th last complete trial on (N >= 1).

    Raises:
        StorageError: no such study.
    """
    with store.engine.connect() as con:
        rows = study_rows(con, study_name, params=params, last_complete=last_complete)
    if rows is None:
        raise StorageError(f"no study named {shorten(study_name)} in {store.url}")
    return _frozen(rows)


def _frozen(rows: StudyRows) -> list[FrozenTrial]:
    """The rows as ``FrozenTrial`` objects, in the order of ``rows.trials``."""
    values: dict[int, list[float]] = {}
    for tid, value in rows.values:
        values.setdefault(tid, []).append(value)
    attrs: dict[int, dict[str, Any]] = {}
    for tid, key, raw in rows.user_attrs:
        attrs.setdefault(tid, {})[key] = json.loads(raw)
    ps: dict[int, dict[str, Any]] = {}
    ds: dict[int, dict[str, BaseDistribution]] = {}
    for tid, name, internal, dist_json in rows.params:
        dist = _distribution(dist_json)
        ps.setdefault(tid, {})[name] = dist.to_external_repr(internal)
        ds.setdefault(tid, {})[name] = dist
    out = []
    for tid, number, state, start, complete in rows.trials:
        vals = values.get(tid)
        out.append(
            FrozenTrial(
                number=number,
                state=state,
                value=None,
                datetime_start=_when(start),
                datetime_complete=_when(complete),
                params=ps.get(tid, {}),
                distributions=ds.get(tid, {}),
                user_attrs=attrs.get(tid, {}),
                system_attrs={},
                intermediate_values={},
                trial_id=tid,
                values=vals,
            )
        )
    return out


@dataclass(frozen=True)
class FrontRead:
    """What ``nas show`` prints of a study, read without loading its trials: the study's user
    attributes (decoded), its trial counts by state, and its Pareto front (trials with their
    user attributes, fastest first, as :func:`nas.analysis.results.pareto_front` orders it)."""

    attrs: dict[str, Any]
    states: dict[TrialState, int]
    front: list[FrozenTrial]


def read_front(store: Store, study_name: str, *, max_latency_ms: float | None = None) -> FrontRead:
    """The study's attributes, counts and front, by four plain queries: two user attributes
    (accuracy, latency) of each complete trial, then every attribute of the front's trials only.
    The front equals ``pareto_front(complete trials, max_latency_ms)`` (a test compares them);
    ``max_latency_ms`` None reads the study's own setting.

    Raises:
        StorageError: no such study.
    """
    with store.engine.connect() as con:
        head = study_head(con, study_name)
        if head is None:
            raise StorageError(f"no study named {shorten(study_name)} in {store.url}")
        attrs = {k: json.loads(v) for k, v in head.attrs.items()}
        if max_latency_ms is None:
            settings = attrs.get(keys.SETTINGS)
            if isinstance(settings, dict):
                max_latency_ms = settings.get("max_latency_ms")
        points = complete_points(con, head.study_id, keys.ACCURACY, keys.LATENCY_MS)
        numbers = _front_numbers(points, max_latency_ms)
        rows = some_trial_rows(con, head.study_id, numbers)
    by_number = {t.number: t for t in _frozen(rows)}
    return FrontRead(
        attrs=attrs,
        states={TrialState[s]: n for s, n in head.states.items()},
        front=[by_number[n] for n in numbers],
    )


def _front_numbers(points: list[tuple[int, str, str]], max_latency_ms: float | None) -> list[int]:
    """Trial numbers of the front, fastest first, by the rules of ``results.pareto_front``: a
    trial without both values (``null`` in JSON), with a non-finite one or over
    ``max_latency_ms`` is left out."""
    if not points:
        return []
    nums = np.array([p[0] for p in points])
    acc, lat = _floats([p[1] for p in points]), _floats([p[2] for p in points])
    ok = np.isfinite(acc) & np.isfinite(lat)
    if max_latency_ms is not None:
        ok &= lat <= max_latency_ms
    nums, acc, lat = nums[ok], acc[ok], lat[ok]
    return [int(nums[i]) for i in pareto.front_order_2d(acc, lat)]


def _floats(raw: list[str]) -> np.ndarray:
    """JSON numbers as floats, ``null`` as NaN (left off the front like a missing value).

    numpy parses the lot at once (``float()``'s grammar, which covers JSON numbers and the
    ``NaN``/``Infinity`` that Python's json writes); only an array holding something else
    is parsed value by value."""
    try:
        return np.array(raw, dtype=str).astype(float)
    except ValueError:
        out = [json.loads(r) for r in raw]
        return np.array([np.nan if v is None else float(v) for v in out], dtype=float)


def read_changes(
    store: Store,
    study_name: str,
    *,
    after: int = -1,
    numbers: Sequence[int] = (),
    attr_keys: Sequence[str] = (),
) -> tuple[tuple[Any, ...], list[FrozenTrial]] | None:
    """The study's change token (:func:`~nas.storage.optuna_compat.study_token`) and its
    trials numbered above ``after`` or in ``numbers``, with the user attributes in
    ``attr_keys`` only, in number order; None when there is no such study (yet). The token
    is read first, so rows newer than it only make the next token differ."""
    with store.engine.connect() as con:
        head = study_head(con, study_name)
        if head is None:
            return None
        token = (head.study_id, study_token(con, head.study_id))
        rows = trial_rows_where(con, head.study_id, after=after, numbers=numbers, keys=attr_keys)
    return token, _frozen(rows)


def change_token(store: Store, study_name: str) -> tuple[Any, ...] | None:
    """The study's change token alone (None: no such study): two primary-key maxima and a
    count per state, milliseconds at 50,000 trials."""
    with store.engine.connect() as con:
        head = study_head(con, study_name)
        return None if head is None else (head.study_id, study_token(con, head.study_id))
