"""``--warm-start PROXY[:POOL]`` (nas.search.warm_start): the pre-screen's selection, its picks
enqueued as a search's first trials, once per study. Bad input: tests/test_bad_input.py."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from nas.errors import OptionError
from nas.search import warm_start as ws
from nas.search.driver import check_search, run_search
from nas.search.options import SearchOptions
from nas.spaces import load_space
from nas.storage import keys
from nas.supernet.proxies import PROXIES
from tests.conftest import TINY


def test_select_takes_the_front_thins_it_evenly_and_fills_from_the_next_fronts() -> None:
    # (score up, latency down): a front of five, a second front of two, a dominated point, a
    # point with no score, and a copy of point 2 (the pre-screen cannot tell them apart)
    scores = [1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 1.5, 0.1, math.nan, 3.0]
    lats = [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 3.0, 9.0, 0.5, 3.0]
    assert ws.select(scores, lats, 5) == [0, 1, 2, 3, 4]  # the whole front, by latency
    assert ws.select(scores, lats, 3) == [0, 2, 4]  # thinned: both ends and the middle
    assert ws.select(scores, lats, 7) == [0, 1, 2, 3, 4, 5, 6]  # then the second front
    assert ws.select(scores, lats, 20) == [0, 1, 2, 3, 4, 5, 6, 7]  # never nan, nor the copy
    assert ws.select(scores, lats, 0) == []


def test_the_option_reads_proxy_and_pool_and_keeps_one_form() -> None:
    assert SearchOptions(warm_start="synflow").warm_start == f"synflow:{ws.DEFAULT_POOL}"
    assert SearchOptions(warm_start="params:300").warm_start == "params:300"
    assert ws.WarmStartSpec.parse("zen:7") == ws.WarmStartSpec("zen", 7)
    with pytest.raises(OptionError, match="unknown proxy 'snip'"):
        SearchOptions(warm_start="snip")  # needs data: not a pre-screen proxy
    # the service takes the same model as its request body
    body = SearchOptions.model_validate_json('{"warm_start": "flops:20", "space": "nb201"}')
    assert body.warm_start == "flops:20"
    assert "warm_start" in SearchOptions.model_json_schema()["properties"]


def test_the_warm_start_proxies_are_registered_and_data_free() -> None:
    for name in ws.WARM_START_PROXIES:
        assert PROXIES[name].data_free, name


def _tiny_table(folder: Path, *, latency: bool = True) -> Path:
    """Every architecture of the tiny space with a made-up accuracy (and latency)."""
    space = load_space(str(TINY))
    keys_ = sorted({space.describe(a) for a in space._enumerate()})
    rows = ["arch,accuracy" + (",latency_ms" if latency else "")]
    for i, key in enumerate(keys_):
        acc, lat = 40 + (i * 37) % 50, 1 + (i * 13) % 29
        rows.append(f"{key},{acc}" + (f",{lat}" if latency else ""))
    path = folder / "tiny.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _opts(table: Path, url: str, budget: int, **more: object) -> SearchOptions:
    return SearchOptions(
        space=str(TINY),
        evaluator=f"table:{table}",
        storage=url,
        study="w",
        budget=budget,
        seed=3,
        **more,  # type: ignore[arg-type]
    )


def _fixed(study: optuna.Study) -> list[str]:
    """Arch hashes of the trials that were enqueued (anchors and warm start), in order."""
    return [
        t.user_attrs[keys.ARCH_HASH]
        for t in sorted(study.trials, key=lambda t: t.number)
        if "fixed_params" in t.system_attrs
    ]


def test_search_starts_from_the_prescreens_picks_and_a_resume_adds_none(
    tmp_path: Path, storage_url: str
) -> None:
    table = _tiny_table(tmp_path)
    result = run_search(_opts(table, storage_url, 14, warm_start="params:100"))
    assert result.completed == 14
    study = optuna.load_study(study_name="w", storage=storage_url)
    record = study.user_attrs[keys.WARM_START]
    assert record["proxy"] == "params" and record["pool"] == 100
    assert record["latency"] == "table column latency_ms"
    # the pre-screen, recomputed here, picks the same architectures
    checked = check_search(_opts(table, storage_url, 14))
    space = checked.space
    screen = ws.prescreen(
        space,
        ws.WarmStartSpec("params", 100),
        k=ws.size_for(14),
        seed=3,
        num_classes=10,
        latency=ws.latency_source(checked.evaluator, space),
    )
    picks = [space.hash(a) for a in screen.picks]
    assert record["picks"] == picks and len(picks) == ws.size_for(14) == 8
    anchors = list(study.user_attrs[keys.ANCHORS])
    assert _fixed(study) == anchors + picks  # the first trials: anchors, then the picks

    resumed = run_search(_opts(table, storage_url, 20, warm_start="params:100"))
    assert resumed.completed == 20
    study = optuna.load_study(study_name="w", storage=storage_url)
    assert _fixed(study) == anchors + picks  # nothing enqueued again
    assert study.user_attrs[keys.WARM_START] == record
    hashes = [t.user_attrs[keys.ARCH_HASH] for t in study.trials]
    assert len(hashes) == len(set(hashes)) == 20


def test_a_study_that_has_run_is_not_warm_started_later(tmp_path: Path, storage_url: str) -> None:
    table = _tiny_table(tmp_path)
    run_search(_opts(table, storage_url, 4))
    run_search(_opts(table, storage_url, 8, warm_start="params:50"))
    study = optuna.load_study(study_name="w", storage=storage_url)
    assert keys.WARM_START not in study.user_attrs
    assert len(_fixed(study)) == 2  # the anchors only


def test_without_a_latency_column_flops_stand_in_for_latency(tmp_path: Path) -> None:
    table = _tiny_table(tmp_path, latency=False)
    checked = check_search(_opts(table, "sqlite:///unused.db", 10))
    what, fn = ws.latency_source(checked.evaluator, checked.space)
    assert fn is None and what.startswith("FLOPs")
    scorer = ws.PoolScorer(checked.space, "synflow", num_classes=10, seed=0)
    arch = checked.space.anchors()[0]
    score, flops = scorer.score(arch, flops=True)
    again = ws.PoolScorer(checked.space, "synflow", num_classes=10, seed=0).score(arch, flops=True)
    assert score > 0 and flops > 0 and (score, flops) == again  # seeded: the same every time
