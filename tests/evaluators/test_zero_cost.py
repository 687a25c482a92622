"""``--evaluator zero-cost``: a search on ``mobile`` with no supernet, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.analysis.axis import axis_of_evaluator, axis_of_trial
from nas.cli import main
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import keys

SMALL = dict(space="mobile", train_images=200, val_images=100, batch_size=64)


def _opts(storage_url: str, **kw) -> SearchOptions:
    return SearchOptions(**{**SMALL, "storage": storage_url, "study": "zc", **kw})


def _complete(storage_url: str, name: str = "zc") -> list:
    study = optuna.load_study(study_name=name, storage=storage_url)
    return sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> str:
    """A 4-trial zero-cost vote search on ``mobile`` (shared by the tests below)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('zc') / 'studies.db'}"
    result = run_search(_opts(url, budget=4, evaluator="zero-cost"))
    assert result.completed == 4 and result.supernet == "untrained"
    return url


def test_a_zero_cost_search_trains_nothing_and_stores_scores(searched: str) -> None:
    folder = Path(searched.removeprefix("sqlite:///")).parent
    assert not (folder / "nas_checkpoints").exists()  # no supernet was trained or saved
    study = optuna.load_study(study_name="zc", storage=searched)
    assert study.user_attrs[keys.SETTINGS]["evaluator"] == "zero-cost:vote"
    trials = _complete(searched)
    assert len(trials) == 4
    for t in trials:
        ua = t.user_attrs
        json.dumps(ua)
        assert 0.0 < ua[keys.ACCURACY] < 1.0  # a score, mapped into (0, 1)
        assert ua[keys.ZERO_COST_PROXY] == "vote"
        assert set(ua[keys.ZERO_COST]) == {"synflow", "naswot", "jacob_cov"}
        assert ua[keys.LATENCY_MS] > 0 and ua[keys.LATENCY]["runs"] >= 3
        assert ua[keys.PARAMS_M] > 0 and ua[keys.FLOPS_M] > 0
        assert keys.ACCURACY_SE not in ua


def test_scores_depend_on_the_architecture_only_and_a_resume_adds_trials(
    searched: str, tmp_path: Path
) -> None:
    # another database, another strategy: the anchors (largest, smallest) score the same
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run_search(_opts(other, budget=3, evaluator="zero-cost:vote", strategy="random", seed=5))
    mine = {t.user_attrs[keys.ARCH_HASH]: t.values[0] for t in _complete(searched)}
    theirs = {t.user_attrs[keys.ARCH_HASH]: t.values[0] for t in _complete(other)}
    shared = mine.keys() & theirs.keys()
    assert len(shared) >= 2
    assert all(mine[h] == theirs[h] for h in shared)
    # a resume of the same study (zero-cost == zero-cost:vote) keeps the old trials
    before = {t.number: t.values for t in _complete(other)}
    run_search(_opts(other, budget=4, evaluator="zero-cost", strategy="random", seed=5))
    after = _complete(other)
    assert len(after) == 4
    assert all(t.values == before[t.number] for t in after if t.number in before)


def test_a_single_proxy_orders_like_its_raw_value(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    run_search(_opts(url, budget=3, evaluator="zero-cost:params", strategy="tpe"))
    trials = _complete(url)
    assert {t.user_attrs[keys.ZERO_COST_PROXY] for t in trials} == {"params"}
    by_score = sorted(trials, key=lambda t: t.values[0])
    by_raw = sorted(trials, key=lambda t: t.user_attrs[keys.ZERO_COST]["params"])
    assert [t.number for t in by_score] == [t.number for t in by_raw]


def test_show_and_studies_write_a_score_not_a_percentage(searched: str, capsys) -> None:
    assert main(["show", "zc", "--storage", searched]) == 0
    out = capsys.readouterr().out
    assert "vote score" in out and "acc %" not in out
    assert main(["show", "zc", "--history", "--storage", searched]) == 0
    out = capsys.readouterr().out
    assert "best vote score" in out and "accuracy %" not in out
    assert main(["studies", "--storage", searched]) == 0
    assert "(vote score)" in capsys.readouterr().out


def test_report_and_dashboard_label_the_axis_as_a_score(searched: str) -> None:
    from dashboard import figures as fg
    from dashboard import info
    from dashboard.data import Reader

    data = Reader(searched).study("zc")
    pareto = info.pareto_info(data)
    assert pareto.axis.name == "vote score" and not pareto.axis.percent
    fig = fg.plot_pareto(pareto)
    assert fig.layout.yaxis.title.text == "vote score"
    # (a noisy latency adds a legend-only trace whose y is None)
    ys = [v for tr in fig.data if tr.y is not None for v in tr.y if v is not None]
    assert ys and max(ys) < 1.0  # the stored score, not x100
    assert "vote score" in fg.plot_anytime(info.anytime_info(data)).layout.yaxis.title.text
    from dashboard.report import render_report

    html = render_report(Reader(searched), "zc")
    assert "vote score" in html and "accuracy % ± se" not in html


def test_export_says_the_weights_are_untrained(searched: str, tmp_path: Path) -> None:
    from nas.export.study_export import ExportOptions, export_study

    r = export_study(ExportOptions(study="zc", out=str(tmp_path / "out"), storage=searched))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["weights"] == "untrained"
    assert metrics["zero_cost"]["evaluator"] == "zero-cost:vote"
    assert any("UNTRAINED" in n for n in r.notes)


def test_the_export_hint_runs_and_says_the_weights_come_untrained(
    searched: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    """``nas show``'s export command works as printed (a zero-cost study rebuilds its seeded,
    untrained network) and says, in a shell comment above it, how to train it."""
    import shlex

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", "zc", "--storage", searched]) == 0
    hints = capsys.readouterr().out.split("next:\n", 1)[1].replace("\\\n", "").splitlines()
    comment = next(i for i, ln in enumerate(hints) if ln.strip().startswith("#"))
    assert "untrained weights: add --finetune-epochs N" in hints[comment]
    export = shlex.split(hints[comment + 1])
    assert export[:2] == ["nas", "export"] and "--pick" in export
    monkeypatch.chdir(tmp_path)
    assert main(export[1:]) == 0
    assert "UNTRAINED" in capsys.readouterr().out
    assert json.loads((tmp_path / "export" / "metrics.json").read_text())["weights"] == "untrained"


def test_the_axis_of_each_evaluator() -> None:
    assert axis_of_evaluator("supernet").fmt(0.93123, 0.004) == "93.12 ± 0.40"
    zc = axis_of_evaluator("zero-cost:synflow")
    assert zc.title == "synflow score" and zc.fmt(0.73164) == "0.7316"
    assert axis_of_trial({keys.ZERO_COST_PROXY: "vote"}).name == "vote score"
    assert axis_of_trial({}).percent
