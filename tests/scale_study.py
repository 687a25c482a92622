"""A realistic study of tens of thousands of trials, written in seconds (issue 23 item 2); used
by benchmarks/bench_scale.py and by the tests of what reads such studies.

A real tabular search (``nas search --evaluator table:...``) writes a few dozen trials; this
module pads its study to ``n`` trials with more architectures of the same table, written as the
very rows that search writes: the template trial's user attributes (``arch``, ``arch_hash``,
``arch_str``, ``accuracy``, ``latency_ms``, ``table_row``, ``latency_source``, ``eval_seconds``,
``worker``), its parameters with the same distribution JSON, both objective values and its
sampler's system attribute. Each padded trial's attributes come from the table evaluator itself
(:class:`nas.evaluators.table.TableEvaluator`), so accuracy, latency and the held-out column
are the table's, and the set of keys is checked against the template's.

Why bulk SQL: Optuna's ``add_trials`` costs 50-400 ms per trial on a busy 2-core machine; an
``executemany`` per table writes 50,000 trials (about a million rows) in seconds. The result
opens with Optuna and with optuna-dashboard's storage loader (:func:`check_opens`).
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

GENERATION = "NSGAIISampler:generation"


def _template(con: sqlite3.Connection, study: str) -> dict[str, Any]:
    """The study's id, its last complete trial (attributes, params, system attributes), the
    next trial number and id, and the sampler's population size."""
    sid = con.execute("SELECT study_id FROM studies WHERE study_name = ?", (study,)).fetchone()
    if sid is None:
        raise SystemExit(f"bench_scale: no study named {study!r} to pad")
    sid = sid[0]
    tid, number, complete = con.execute(
        "SELECT trial_id, number, datetime_complete FROM trials WHERE study_id = ? AND "
        "state = 'COMPLETE' ORDER BY number DESC LIMIT 1",
        (sid,),
    ).fetchone()
    attrs = {
        k: json.loads(v)
        for k, v in con.execute(
            'SELECT "key", value_json FROM trial_user_attributes WHERE trial_id = ?', (tid,)
        )
    }
    system = dict(
        con.execute(
            'SELECT "key", value_json FROM trial_system_attributes WHERE trial_id = ?', (tid,)
        ).fetchall()
    )
    dists = dict(
        con.execute(
            "SELECT param_name, distribution_json FROM trial_params WHERE trial_id = ? "
            "ORDER BY param_id",
            (tid,),
        ).fetchall()
    )
    first_gen = con.execute(
        "SELECT COUNT(*) FROM trial_system_attributes WHERE \"key\" = ? AND value_json = '0'",
        (GENERATION,),
    ).fetchone()[0]
    return {
        "study_id": sid,
        "attrs": attrs,
        "system": system,
        "dists": dists,
        "number": con.execute(
            "SELECT MAX(number) FROM trials WHERE study_id = ?", (sid,)
        ).fetchone()[0]
        + 1,
        "trial_id": con.execute("SELECT MAX(trial_id) FROM trials").fetchone()[0] + 1,
        "when": datetime.fromisoformat(complete),
        "population": max(1, first_gen),
        "generation": json.loads(system.get(GENERATION, "0")),
    }


def _table_spec(recorded: str):
    """The :class:`TableSpec` a study recorded (``TableSpec.describe``'s line)."""
    from nas.evaluators.table import TableSpec

    m = re.fullmatch(r"table:(.+) accuracy=(\S+) latency=(\S+)", recorded)
    if m is None:
        raise SystemExit(f"bench_scale: not a table study (evaluator {recorded!r})")
    return TableSpec(Path(m[1]), m[2], m[3])


def _padded(tpl: dict[str, Any], settings: dict[str, Any], n: int, seed: int) -> Iterator[tuple]:
    """(trial id, number, start, complete, user attrs, params, values, system attrs) for ``n``
    more trials of the table, drawn with replacement as a long random search would."""
    from nas.evaluators.table import TableEvaluator
    from nas.spaces import load_space

    space = load_space(settings["space"])
    evaluator = TableEvaluator(space, _table_spec(settings["evaluator"]))
    keys_ = list(evaluator.rows)
    rng = random.Random(seed)
    worker = str(tpl["attrs"].get("worker", "bench")).rpartition("#")[0]
    for k in range(n):
        arch = space.parse(rng.choice(keys_))
        h = space.hash(arch)
        ev = evaluator.evaluate(arch, h)
        number = tpl["number"] + k
        attrs = {
            **tpl["attrs"],
            "arch": arch,
            "arch_hash": h,
            "arch_str": space.describe(arch),
            "accuracy": ev.accuracy,
            "latency_ms": ev.latency_ms,
            **ev.attrs,
            "worker": f"{worker}#{number}",
        }
        if set(attrs) != set(tpl["attrs"]):  # the search would have written other keys
            raise SystemExit(f"bench_scale: keys differ: {sorted(set(attrs) ^ set(tpl['attrs']))}")
        start = tpl["when"] + timedelta(milliseconds=40 * (k + 1))
        system = dict(tpl["system"])
        if GENERATION in system:
            system[GENERATION] = str(tpl["generation"] + 1 + k // tpl["population"])
        yield (
            tpl["trial_id"] + k,
            number,
            start,
            start + timedelta(milliseconds=30),
            attrs,
            space.to_params(arch),
            (ev.accuracy, ev.latency_ms),
            system,
        )


def pad(path: Path, study: str, n: int, *, seed: int = 0) -> int:
    """Add ``n`` trials to ``study`` in the SQLite file ``path``, in one transaction; returns
    the number of rows written."""
    from optuna.distributions import json_to_distribution

    con = sqlite3.connect(path)
    try:
        tpl = _template(con, study)
        raw = con.execute(
            'SELECT value_json FROM study_user_attributes WHERE study_id = ? AND "key" = '
            "'settings'",
            (tpl["study_id"],),
        ).fetchone()
        settings = json.loads(raw[0])
        dists = {p: json_to_distribution(d) for p, d in tpl["dists"].items()}
        trials, params, attrs, values, system = [], [], [], [], []
        for tid, number, start, done, ua, ps, vals, sa in _padded(tpl, settings, n, seed):
            trials.append((tid, number, tpl["study_id"], "COMPLETE", str(start), str(done)))
            params += [
                (tid, p, dists[p].to_internal_repr(v), tpl["dists"][p]) for p, v in ps.items()
            ]
            attrs += [(tid, k, json.dumps(v)) for k, v in ua.items()]
            values += [(tid, i, v, "FINITE") for i, v in enumerate(vals)]
            system += [(tid, k, v) for k, v in sa.items()]
        with con:
            con.executemany(
                "INSERT INTO trials (trial_id, number, study_id, state, datetime_start, "
                "datetime_complete) VALUES (?, ?, ?, ?, ?, ?)",
                trials,
            )
            con.executemany(
                "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
                "VALUES (?, ?, ?, ?)",
                params,
            )
            con.executemany(
                'INSERT INTO trial_user_attributes (trial_id, "key", value_json) VALUES (?, ?, ?)',
                attrs,
            )
            con.executemany(
                "INSERT INTO trial_values (trial_id, objective, value, value_type) "
                "VALUES (?, ?, ?, ?)",
                values,
            )
            con.executemany(
                'INSERT INTO trial_system_attributes (trial_id, "key", value_json) '
                "VALUES (?, ?, ?)",
                system,
            )
            con.execute(
                "UPDATE study_user_attributes SET value_json = ? WHERE study_id = ? AND "
                "\"key\" = 'budget'",
                (json.dumps(tpl["number"] + n), tpl["study_id"]),
            )
        return len(trials) + len(params) + len(attrs) + len(values) + len(system)
    finally:
        con.close()


def check_opens(url: str, study: str, n: int) -> None:
    """Optuna and optuna-dashboard's storage loader both open the file, list the study and
    read its last trial, number ``n - 1`` (AssertionError otherwise). Not ``get_n_trials``:
    through Optuna's cached storage it reads every trial (40 s at 50,000)."""
    import optuna
    from optuna_dashboard._storage_url import get_storage

    optuna.load_study(study_name=study, storage=url)
    storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    sid = storage.get_study_id_from_name(study)
    last = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(sid, n - 1))
    assert last.values is not None and len(last.params) > 0, last
    dash = get_storage(url)
    (sid,) = [x._study_id for x in dash.get_all_studies() if x.study_name == study]
    tid = dash.get_trial_id_from_study_id_trial_number(sid, n - 1)
    assert dash.get_trial(tid).user_attrs == last.user_attrs
