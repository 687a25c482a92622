"""The API's cached study views (nas/service/study_cache.py) return exactly what an uncached
read returns, page by page, and follow the study as trials are added, finish or fail."""

from __future__ import annotations

import optuna
import pytest
from fastapi.testclient import TestClient
from optuna.trial import TrialState

from nas.analysis.results import best_accuracy, pareto_front
from nas.service import study_cache
from nas.service.app import create_app
from nas.storage import Store, keys
from nas.storage.fastread import load_trials
from tests.conftest import TINY
from tests.dashboard.synthetic import make_study
from tests.service.test_app import AUTH, config  # noqa: F401 (a fixture)


def _uncached(url: str, name: str, cap: float | None):
    trials = load_trials(Store(url, read_only=True), name, params=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return (
        [study_cache.api_row(t) for t in trials],
        [study_cache.api_row(t) for t in pareto_front(complete, cap)],
        best_accuracy(complete, cap),
    )


def _check(cache: study_cache.StudyCache, url: str, name: str, cap: float | None) -> None:
    rows, front, best = _uncached(url, name, cap)
    view = cache.view(name)
    assert view is not None
    assert view.page(0, None) == rows
    for offset, limit in ((0, 7), (5, 10), (len(rows) - 3, 10), (len(rows) + 5, 10)):
        assert view.page(offset, limit) == rows[offset : offset + limit]
    assert view.front(cap) == front and len(front) >= 2
    assert view.best_accuracy(cap) == best
    assert len(view.done) == sum(r["state"] == "complete" for r in rows)


@pytest.mark.parametrize("cap", [None, 0.65])
def test_cached_views_equal_uncached_reads_as_the_study_changes(
    storage_url: str, cap: float | None, monkeypatch
) -> None:
    make_study(storage_url, "s", 40, space=str(TINY), running=3, failed=2, max_latency_ms=cap)
    cache = study_cache.StudyCache(Store(storage_url, read_only=True))
    reads = []
    real = study_cache.fastread.read_changes
    monkeypatch.setattr(
        study_cache.fastread,
        "read_changes",
        lambda *a, **k: reads.append(k) or real(*a, **k),
    )
    _check(cache, storage_url, "s", cap)
    _check(cache, storage_url, "s", cap)
    assert len(reads) == 1  # nothing changed: the cached rows answered
    study = optuna.load_study(study_name="s", storage=storage_url)
    running = [t for t in study.get_trials() if t.state == TrialState.RUNNING]
    # a running trial finishes with the best accuracy there is; another fails, then gets its
    # reason (as a stale trial does); a new trial is added
    first = study.get_trials()[0]
    for key in (keys.ACCURACY, keys.LATENCY_MS, keys.ARCH_STR, keys.PARAMS_M):
        value = 0.999 if key == keys.ACCURACY else first.user_attrs[key]
        study._storage.set_trial_user_attr(running[0]._trial_id, key, value)
    study.tell(running[0].number, [0.999, first.user_attrs[keys.LATENCY_MS]])
    _check(cache, storage_url, "s", cap)
    # only the trials that could still change were read again: running, or failed without
    # a reason yet (make_study's failed trials have none)
    assert reads[-1]["numbers"] == list(range(40, 45)) and reads[-1]["after"] == 44
    study.tell(running[1].number, state=TrialState.FAIL)
    _check(cache, storage_url, "s", cap)
    study._storage.set_trial_user_attr(running[2]._trial_id, keys.FAIL_REASON, "x")
    _check(cache, storage_url, "s", cap)
    new = study.ask()
    new.set_user_attr(keys.ACCURACY, 0.5)
    new.set_user_attr(keys.LATENCY_MS, 0.01)  # the fastest: on the front
    study.tell(new, [0.5, 0.01])
    _check(cache, storage_url, "s", cap)
    view = cache.view("s")
    assert view is not None and view.front(cap)[0]["number"] == new.number
    assert view.best_accuracy(cap) == pytest.approx(0.999)
    assert reads[-1]["after"] == new.number - 1
    # two trials finishing out of order: the front and rows stay in number order
    first, second = study.ask(), study.ask()
    _check(cache, storage_url, "s", cap)
    for t, lat in ((second, 0.01), (first, 0.01)):  # the same point: both on the front
        t.set_user_attr(keys.ACCURACY, 0.5)
        t.set_user_attr(keys.LATENCY_MS, lat)
        study.tell(t, [0.5, lat])
        _check(cache, storage_url, "s", cap)
    assert [r["number"] for r in cache.view("s").front(cap)[:3]] == [  # type: ignore[union-attr]
        new.number,
        first.number,
        second.number,
    ]


def test_trials_pages_front_and_progress_over_http(config) -> None:  # noqa: F811
    client = TestClient(create_app(config), raise_server_exceptions=False)
    options = {"space": "nb201", "budget": 30, "evaluator": "synthetic"}
    r = client.post("/api/searches", headers=AUTH, json=options)
    assert r.status_code == 201, r.text
    sid, name = r.json()["id"], r.json()["study"]
    empty = client.get(f"/api/searches/{sid}/trials", headers=AUTH)
    assert empty.status_code == 200 and empty.json() == []  # the search has not started
    make_study(config.storage, name, 30, space="nb201", failed=2)
    rows, front, best = _uncached(config.storage, name, None)
    get = lambda path, **q: client.get(f"/api/searches/{sid}/{path}", headers=AUTH, params=q)  # noqa: E731
    assert get("trials").json() == rows
    pages = [get("trials", offset=o, limit=7).json() for o in range(0, 40, 7)]
    assert [r for p in pages for r in p] == rows
    assert get("front").json() == front
    p = get("progress").json()
    assert (p["complete"], p["front_size"], p["best_accuracy"]) == (30, len(front), best)
    assert get("trials", limit=0).status_code == 422
    assert get("trials", offset=-1).status_code == 422
