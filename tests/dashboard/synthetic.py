"""Synthetic nas studies (realistic trial attributes, made-up numbers) for dashboard tests and
the dashboard benchmark.

Optuna's ``add_trials`` costs 50-400 ms per trial on a busy 2-core machine (one ORM query per
parameter), too slow for 5,000 trials. :func:`make_study` therefore adds the first trial through
Optuna and bulk-inserts the rest as the same rows Optuna writes; a test checks that both kinds of
trial read back identically.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import optuna
from optuna.distributions import distribution_to_json
from optuna.trial import FrozenTrial, TrialState, create_trial
from sqlalchemy import text

from nas.spaces import load_space
from nas.spaces.optuna_adapter import distributions
from nas.storage import Store, keys
from nas.storage.studies import StudySettings, create_or_resume

FINGERPRINT = {"device": "cpu", "threads": 1, "torch": "2.13.0", "cpu": "synthetic"}
FINGERPRINT_ID = "synthetic0000000"


def _trials(space_name: str, n: int, running: int, failed: int, seed: int, source: str):
    sp = load_space(space_name)
    dists = distributions(sp)
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1)
    for k in range(n + running + failed):
        arch = sp.sample(rng)
        # a cell space's operations count by name length: any deterministic size will do
        size = sum(v if isinstance(v, int) else len(str(v)) % 4 for v in arch.values()) / max(
            1, len(arch)
        )
        lat = round(0.2 + 0.1 * size + rng.random() * 0.3, 4)
        acc = min(0.99, 0.4 + 0.08 * size + rng.gauss(0, 0.03))
        attrs = {
            keys.ARCH: arch,
            keys.ARCH_HASH: sp.hash(arch),
            keys.ARCH_STR: sp.describe(arch),
            keys.ACCURACY: acc,
            keys.LATENCY_MS: lat,
            keys.LATENCY: {
                "median_ms": lat,
                "p10_ms": lat * 0.97,
                "p90_ms": lat * 1.05,
                "std_ms": lat * 0.02,
                "runs": 20,
            },
            keys.LATENCY_SOURCE: source,
            keys.FINGERPRINT: FINGERPRINT,
            keys.FINGERPRINT_ID: FINGERPRINT_ID,
            keys.PARAMS_M: round(0.5 + size, 3),
            keys.FLOPS_M: round(20 * size, 1),
        }
        state = (
            TrialState.COMPLETE
            if k < n
            else TrialState.RUNNING
            if k < n + running
            else TrialState.FAIL
        )
        done = state == TrialState.COMPLETE
        yield (
            create_trial(
                state=state,
                params=sp.to_params(arch),
                distributions=dists,
                values=[acc, lat] if done else None,
                user_attrs=attrs if done else {keys.ARCH: arch},
            ),
            t0 + timedelta(seconds=k),
        )


def make_study(
    url: str,
    name: str,
    n: int,
    *,
    space: str = "mobile",
    seed: int = 0,
    strategy: str = "random",
    max_latency_ms: float | None = None,
    latency_source: str = "measured",
    running: int = 0,
    failed: int = 0,
    budget: int | None = None,
    data: str = "digits",
    evaluator: str = "supernet",
) -> optuna.Study:
    """A two-objective nas study of ``n`` completed trials (plus running and failed ones)."""
    sp = load_space(space)
    settings = StudySettings(
        space=sp.name,
        space_digest=sp.digest,
        data=data,
        data_fingerprint="synthetic",
        strategy=strategy,
        objective="pareto",
        target="cpu",
        evaluator=evaluator,
        max_latency_ms=max_latency_ms,
        latency_weight=-0.07,
        seed=seed,
        options={"space": space},
    )
    store = Store(url)
    study = create_or_resume(store, name, settings, budget if budget is not None else n)
    made = list(_trials(space, n, running, failed, seed, latency_source))
    if made:
        study.add_trial(made[0][0])  # through Optuna: the reference for the bulk rows
        bulk_insert(store, study._study_id, made[1:], first_number=1)
    return study


def bulk_insert(
    store: Store, study_id: int, trials: list[tuple[FrozenTrial, datetime]], first_number: int
) -> None:
    """Insert trials as the rows Optuna's RDB storage writes, in one transaction."""
    with store.engine.begin() as con:
        for k, (t, when) in enumerate(trials):
            done = t.state == TrialState.COMPLETE
            tid = con.execute(
                text(
                    "INSERT INTO trials (number, study_id, state, datetime_start, "
                    "datetime_complete) VALUES (:n, :s, :st, :a, :b) RETURNING trial_id"
                ),
                {
                    "n": first_number + k,
                    "s": study_id,
                    "st": t.state.name,
                    "a": when,
                    "b": when if t.state.is_finished() else None,
                },
            ).scalar_one()  # not lastrowid: PostgreSQL's driver has none
            con.execute(
                text(
                    "INSERT INTO trial_params (trial_id, param_name, param_value, "
                    "distribution_json) VALUES (:t, :n, :v, :d)"
                ),
                [
                    {
                        "t": tid,
                        "n": p,
                        "v": d.to_internal_repr(t.params[p]),
                        "d": distribution_to_json(d),
                    }
                    for p, d in t.distributions.items()
                ],
            )
            con.execute(
                text(
                    'INSERT INTO trial_user_attributes (trial_id, "key", value_json) '
                    "VALUES (:t, :k, :v)"
                ),
                [{"t": tid, "k": k_, "v": json.dumps(v)} for k_, v in t.user_attrs.items()],
            )
            if done:
                con.execute(
                    text(
                        "INSERT INTO trial_values (trial_id, objective, value, value_type) "
                        "VALUES (:t, :o, :v, 'FINITE')"
                    ),
                    [{"t": tid, "o": i, "v": v} for i, v in enumerate(t.values)],
                )
