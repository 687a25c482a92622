"""Figures, pages, the read-only storage and ``nas report`` (no browser; see
tests/integration/test_dashboard_browser.py for the real one)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pytest

from dashboard import figures as fg
from dashboard import info
from dashboard.app import create_app
from dashboard.data import Reader
from dashboard.layout import arch_panel, lut_graphs, studies_table, study_path
from nas.cli import main
from nas.errors import StorageError
from nas.spaces import load_space
from nas.storage import Store, keys, progress
from tests.conftest import TINY
from tests.dashboard.synthetic import make_study


def _texts(component: object) -> str:
    """All text in a Dash component tree (what a user would read)."""
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json())  # type: ignore[attr-defined]


def test_pareto_figure_partitions_the_trials_and_draws_the_limit(storage_url: str) -> None:
    make_study(storage_url, "c", 25, space=str(TINY), max_latency_ms=0.6)
    d = Reader(storage_url).study("c")
    p = info.pareto_info(d)
    fig = fg.plot_pareto(p, selected=p.knee)
    assert d.settings is not None and d.settings.target  # the axis says where it was timed
    assert fig.layout.xaxis.title.text == f"latency on {d.settings.target} (ms, median)"
    numbers = [n for tr in fig.data for n in tr.customdata]
    assert sorted(numbers) == [x.number for x in p.points]
    front = next(tr for tr in fig.data if tr.name.startswith("Pareto front"))
    assert list(front.customdata) == sorted(p.front, key=lambda n: p.by_number(n).latency_ms)  # type: ignore[union-attr]
    assert [s.x0 for s in fig.layout.shapes] == [0.6]  # the constraint line
    assert f"trial {p.knee}" in [a.text for a in fig.layout.annotations]


def test_empty_study_gets_explained_charts(storage_url: str) -> None:
    make_study(storage_url, "e", 0, space=str(TINY), running=1, budget=10)
    r = Reader(storage_url)
    d = r.study("e")
    p = info.pareto_info(d)
    for fig in (
        fg.plot_pareto(p),
        fg.plot_anytime(info.anytime_info(d)),
        fg.plot_latency(info.latency_info(d)),
    ):
        assert [a.text for a in fig.layout.annotations] == ["no completed trials yet"]
    assert "no completed trial to show yet" in _texts(arch_panel(d, p.knee, storage_url))


def test_no_studies_page_shows_the_command_that_makes_one(storage_url: str) -> None:
    Store(storage_url)  # an empty nas database
    text = _texts(studies_table(Reader(storage_url).summaries(), storage_url))
    assert f"nas search --space mobile --budget 200 --storage {storage_url}" in text


def test_studies_table_links_every_study(storage_url: str) -> None:
    make_study(storage_url, "one", 5, space=str(TINY))
    make_study(storage_url, "two two", 3, space=str(TINY), budget=9)
    text = _texts(studies_table(Reader(storage_url).summaries(), storage_url))
    assert study_path("two two") == "/study/two%20two"
    for s in ("/study/one", "/study/two%20two", "5 / 5", "3 / 9"):
        assert s in text


def test_arch_panel_shows_metrics_network_and_export_command(storage_url: str) -> None:
    make_study(storage_url, "s", 8, space=str(TINY))
    d = Reader(storage_url).study("s")
    text = _texts(arch_panel(d, 3, storage_url, "clicked"))
    assert "noisy" not in text
    fig = fg.plot_pareto(info.pareto_info(d))  # no noisy trial: filled markers, no legend entry
    assert all(tr.marker.symbol in (None, "x") for tr in fig.data)
    assert not any(fg.NOISY_LEGEND in tr.name for tr in fig.data)
    assert "Trial 3 (clicked)" in text
    assert f"nas export s --trial 3 --out export/ --storage {storage_url}" in text
    assert d.trial(3).user_attrs["arch_str"] in text  # type: ignore[union-attr]


def _find(component: object, id_: str) -> object:
    """The component with ``id_`` in a Dash tree."""
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, id_)
            if found is not None:
                return found
    return None


def test_network_view_names_stages_as_the_space_and_gives_a_kernel_one_colour(
    storage_url: str,
) -> None:
    make_study(storage_url, "s", 12, space=str(TINY))
    d = Reader(storage_url).study("s")
    seen = set()
    for t in d.complete:
        graph = _find(arch_panel(d, t.number, storage_url, "clicked"), "arch-graph")
        [bar] = graph.figure.data  # type: ignore[attr-defined]
        seen.add(tuple(sorted(set(bar.marker.color))))
        # the colour scale spans the space's kernels (tiny: 3 and 5), not this network's
        assert (bar.marker.cmin, bar.marker.cmax) == (3, 5)
        assert list(bar.marker.colorbar.tickvals) == [3, 5]
        # the labels the space (and the parameter importance chart) use: stage0.layer1
        assert all(re.fullmatch(r"stage\d\.layer\d", x) for x in bar.x)
        labels = t.user_attrs[keys.ARCH]  # the architecture's own labels: stage0.layer1.kernel
        assert all(f"{x}.kernel" in labels for x in bar.x)
        notes = [a.text.split("<br>")[0] for a in graph.figure.layout.annotations]  # type: ignore[attr-defined]
        assert notes == [f"stage{i}" for i in range(len(notes))]
    assert len(seen) > 1  # networks with different kernels, drawn on the same scale


def test_a_study_without_params_or_flops_shows_neither(storage_url: str) -> None:
    study = make_study(storage_url, "tab", 3, space="nb201", evaluator="table:bench.csv")
    first = study.trials[0]
    attrs = {k: v for k, v in first.user_attrs.items() if k not in (keys.PARAMS_M, keys.FLOPS_M)}
    study.add_trial(
        optuna.trial.create_trial(
            params=first.params,
            distributions=first.distributions,
            values=first.values,
            user_attrs=attrs,
        )
    )
    d = Reader(storage_url).study("tab")
    panel = arch_panel(d, 3, storage_url, "clicked")
    line = _find(panel, "arch-metrics").children  # type: ignore[attr-defined]
    assert "latency" in line and "params" not in line and "MFLOPs" not in line
    hovers = [t for tr in fg.plot_pareto(info.pareto_info(d)).data for t in tr.text or ()]
    assert hovers and not any("params -" in h or "- MFLOPs" in h for h in hovers)
    assert sum("params " in h for h in hovers) == 3  # the trials that know theirs show them
    # the nb201 cell string (no space in it) wraps inside its panel instead of overflowing
    arch_str = _find(panel, "arch-str")
    assert arch_str.children == first.user_attrs["arch_str"]  # type: ignore[attr-defined]
    assert arch_str.style["overflowWrap"] == "anywhere"  # type: ignore[attr-defined]


def test_an_outlier_far_below_does_not_squash_the_accuracy_axis(storage_url: str) -> None:
    study = make_study(storage_url, "nb", 12, space="nb201", evaluator="table:bench.csv")
    d = Reader(storage_url).study("nb")
    fig = fg.plot_pareto(info.pareto_info(d))
    assert fig.layout.yaxis.range is None and not fig.layout.annotations  # nothing to cut
    # NAS-Bench-201's all-none cell: 9.7 %, 0 ms, on the front (nothing is faster)
    none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    first = study.trials[0]
    attrs = {**first.user_attrs, keys.ARCH_STR: none, keys.ACCURACY: 0.097, keys.LATENCY_MS: 0.0}
    study.add_trial(
        optuna.trial.create_trial(
            params=first.params,
            distributions=first.distributions,
            values=[0.097, 0.0],
            user_attrs=attrs,
        )
    )
    d = Reader(storage_url).study("nb")
    p = info.pareto_info(d)
    fig = fg.plot_pareto(p)
    lo, hi = fig.layout.yaxis.range
    others = [100 * q.accuracy for q in p.points if q.number != 12]
    assert 9.7 < lo < min(others) and hi > max(others)  # the axis spans the rest
    [note] = [a.text for a in fig.layout.annotations if a.name == "axis-cut"]
    assert note == "▼ axis cut: 1 trial below, lowest 9.70 % at 0.000 ms (trial 12)"
    # still a point of the chart (off the axis), so the traces keep every trial
    assert 12 in [n for tr in fig.data for n in (tr.customdata or ())]


def test_dashboard_reader_cannot_write_the_database(storage_url: str) -> None:
    make_study(storage_url, "s", 3, space=str(TINY))
    db = Path(storage_url.removeprefix("sqlite:///"))
    r = Reader(storage_url)
    r.study("s")
    with pytest.raises(Exception) as exc:
        optuna.create_study(study_name="new", storage=r.store.optuna)
    chain = []
    e: BaseException | None = exc.value
    while e is not None:
        chain.append(str(e))
        e = e.__cause__ or e.__context__
    assert any("readonly database" in m for m in chain), chain
    assert [s.study_name for s in optuna.get_all_study_summaries(storage_url)] == ["s"]
    with pytest.raises(StorageError, match="does not exist"):
        Reader(f"sqlite:///{db.parent / 'missing.db'}")
    assert not (db.parent / "missing.db").exists()


def test_signature_changes_when_a_trial_is_added_and_the_cache_follows(
    storage_url: str,
) -> None:
    study = make_study(storage_url, "s", 3, space=str(TINY))
    make_study(storage_url, "other", 2, space=str(TINY))
    r = Reader(storage_url)
    before, first = r.signature("s"), r.study("s")
    assert r.study("s") is first  # unchanged: served from the cache
    other_before = r.signature("other")
    study.add_trial(study.trials[0])
    assert r.signature("s") != before
    assert r.signature("other") == other_before
    assert len(r.study("s").complete) == 4
    assert progress.signature(r.store) != progress.signature(r.store, "s")


def test_app_builds_and_routes_every_page(storage_url: str) -> None:
    make_study(storage_url, "s", 4, space=str(TINY))
    app = create_app(storage_url)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_json()
    assert "page" in json.dumps(layout)
    # the route callback, through Dash's own HTTP endpoint as the browser calls it
    body = {
        "output": "page.children",
        "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/study/s"}],
        "changedPropIds": ["url.pathname"],
        "state": [{"id": "page-path", "property": "data", "value": "/"}],
    }
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200
    assert '"study-name"' in res.get_data(as_text=True)
    assert '"data": "s"' in res.get_data(as_text=True).replace('"data":"s"', '"data": "s"')


def _graphs(layout: object) -> dict[str, dict]:
    """id -> figure of every dcc.Graph in a layout as /_dash-layout serves it."""
    out: dict[str, dict] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Graph":
                out[props["id"]] = props.get("figure") or {}
            for v in props.values() if isinstance(props, dict) else ():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    return out


def test_study_page_comes_with_its_charts_in_the_first_layout(storage_url: str) -> None:
    # The page's own request for the layout carries the page URL as Referer: the study view is
    # drawn from that one response, without waiting for callbacks.
    make_study(storage_url, "s", 6, space=str(TINY))
    client = create_app(storage_url).server.test_client()
    assert client.get("/study/s").status_code == 200  # also starts reading the study
    layout = client.get("/_dash-layout", headers={"Referer": "http://x/study/s"}).get_json()
    graphs = _graphs(layout)
    pareto = graphs["pareto-graph"]["data"]
    assert sorted(n for tr in pareto for n in tr["customdata"]) == list(range(6))
    assert "6 complete / 6 budget" in json.dumps(layout)  # the header
    # the other charts come in the first poll, importance from its own callback
    for later in ("importance-graph", "anytime-graph", "latency-graph"):
        assert graphs[later]["layout"]["meta"] == "loading"
    # without a Referer (or for "/") the home page, which its callbacks fill
    assert "studies-view" in json.dumps(client.get("/_dash-layout").get_json())
    missing = client.get("/_dash-layout", headers={"Referer": "http://x/study/nope"})
    assert "study-missing" in json.dumps(missing.get_json())


def test_report_is_one_self_contained_file(storage_url: str, tmp_path: Path) -> None:
    make_study(storage_url, "s", 12, space=str(TINY))
    out = tmp_path / "r.html"
    assert main(["report", "s", "-o", str(out), "--storage", storage_url]) == 0
    html = out.read_text()
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js inlined, nothing fetched
    assert not re.search(r"<link[^>]+href=", html)
    # pareto, anytime, latency, arch, importance, hardware x2, lookup table (none: the command)
    assert html.count("Plotly.newPlot(") == 8
    space = Reader(storage_url).study("s").settings.space  # type: ignore[union-attr]
    command = f"nas hardware profile --space {space} --target cpu --storage {storage_url}"
    assert command in html.replace("\\u002f", "/")  # the JSON in the page escapes "/"
    assert "<h1>s</h1>" in html and "nas export s --trial" in html
    assert not list(tmp_path.glob("*.tmp"))


def test_report_of_a_missing_study_is_a_usage_error(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_study(storage_url, "s", 2, space=str(TINY))
    out = tmp_path / "r.html"
    assert main(["report", "nope", "-o", str(out), "--storage", storage_url]) == 2
    assert capsys.readouterr().err.strip() == (
        f"nas: error: no study named 'nope' in {storage_url}; studies here: s"
    )
    assert not out.exists()
    assert (
        main(["report", "s", "-o", str(tmp_path / "no" / "r.html"), "--storage", storage_url]) == 2
    )


def test_dashboard_command_refuses_bad_options(
    storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboard", "--port", "70000", "--storage", storage_url]) == 2
    assert "--port must be between 1 and 65535, got 70000" in capsys.readouterr().err
    missing = storage_url.replace("studies.db", "nothing.db")
    assert main(["dashboard", "--storage", missing]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_hardware_view_shows_the_lookup_table_or_the_command_that_makes_one(
    storage_url: str,
) -> None:
    from tests.dashboard.synthetic import FINGERPRINT_ID
    from tests.dashboard.test_dashboard_info import _store_table

    make_study(storage_url, "s", 4, space=str(TINY))
    [empty] = lut_graphs(Reader(storage_url), Reader(storage_url).study("s"))
    space = Reader(storage_url).study("s").settings.space  # type: ignore[union-attr]
    command = f"nas hardware profile --space {space} --target cpu --storage {storage_url}"
    assert command in empty.figure.layout.annotations[0].text
    _store_table(storage_url, load_space(str(TINY)).digest, FINGERPRINT_ID)
    r = Reader(storage_url)
    [graph, fits] = lut_graphs(r, r.study("s"))
    [heat] = graph.figure.data
    assert heat.type == "heatmap" and list(heat.x) == ["k3 e3", "k3 e6", "k5 e3"]
    title = graph.figure.layout.title.text
    assert "R² " in title
    # named by its target and the study's space, not by the fingerprint's hash
    assert "target cpu (torch 2.5.1, 1 thread), space tiny" in title
    assert FINGERPRINT_ID not in title
    # stages counted from 0, as the space's labels count them (stage0.depth)
    assert [row.split(" · ")[0] for row in heat.y] == ["stage0", "stage0", "stage1"]
    assert "held-out tau 0.867 on 10, median error 3.1 %: passed" in title
    # under the chart, the fit's validation on held-out networks, as a table
    assert fits.id == "lut-fit"
    text = str(fits.to_plotly_json())
    for cell in ("Kendall tau", "0.867", "3.1 %", "8.1 %", "yes: passed its validation"):
        assert cell in text, cell
    # the page's first call brings it (after the Pareto figure), through Dash's own endpoint
    client = create_app(storage_url).server.test_client()
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in _CHART_OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in _CHART_OUTPUTS],
        "inputs": [{"id": "study-sig", "property": "data", "value": r.signature("s")}],
        "changedPropIds": [],
        "state": [{"id": "study-name", "property": "data", "value": "s"}],
    }
    res = client.post("/_dash-update-component", json=body)
    assert res.status_code == 200, res.get_data(as_text=True)
    text = res.get_data(as_text=True)
    assert '"heatmap"' in text and '"lut-graph"' in text and '"lut-fit"' in text
    assert '"pareto-graph"' not in text  # already in the first layout


def test_study_charts_do_not_hang_on_the_refresh_interval(storage_url: str) -> None:
    # Dash drops the answer of a callback call still running when the callback fires again;
    # charts fed by the 1-5 s interval never arrived when their first call took longer.
    make_study(storage_url, "s", 3, space=str(TINY))
    client = create_app(storage_url, refresh_seconds=1).server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    [poll] = [d for d in deps if any(i["id"] == "study-tick" for i in d["inputs"])]
    assert set(poll["output"].strip(".").split("...")) == {
        "study-sig.data",
        "study-header.children",
    }
    [charts] = [d for d in deps if "lut-view.children" in d["output"]]
    assert [i["id"] for i in charts["inputs"]] == ["study-sig"]


_CHART_OUTPUTS = [
    ("pareto-graph", "figure"),
    ("anytime-graph", "figure"),
    ("latency-graph", "figure"),
    ("predicted-graph", "figure"),
    ("cache-graph", "figure"),
    ("lut-view", "children"),
]


def test_noisy_latencies_are_marked_in_the_report_and_the_hover(
    storage_url: str, tmp_path: Path
) -> None:
    import sqlite3

    make_study(storage_url, "s", 6, space=str(TINY))
    db = sqlite3.connect(storage_url.removeprefix("sqlite:///"))
    for tid, value in db.execute(
        "select trial_id, value_json from trial_user_attributes where key = ?", (keys.LATENCY,)
    ).fetchall():
        value = json.dumps({**json.loads(value), "noisy": True})
        db.execute(
            "update trial_user_attributes set value_json = ? where trial_id = ? and key = ?",
            (value, tid, keys.LATENCY),
        )
    db.commit()
    db.close()
    d = Reader(storage_url).study("s")
    p = info.pareto_info(d)
    fig = fg.plot_pareto(p)
    trials = [tr for tr in fig.data if tr.customdata is not None]
    assert all("noisy" in h for tr in trials for h in tr.hovertext)
    # visible without hovering: open markers, and a legend entry that says what they mean
    assert all(str(s).endswith("-open") for tr in trials for s in tr.marker.symbol)
    assert fig.data[-1].name == f"{fg.NOISY_LEGEND}: 6" and fig.data[-1].customdata is None
    assert "~ noisy: re-measure on a quiet machine" in _texts(arch_panel(d, 0, storage_url))
    out = tmp_path / "r.html"
    assert main(["report", "s", "-o", str(out), "--storage", storage_url]) == 0
    html = out.read_text()
    knee = p.by_number(p.knee)  # type: ignore[arg-type]
    assert f"<td>{knee.latency_ms:.3f}~</td>" in html  # type: ignore[union-attr]
    assert "~ noisy: the p10-p90 spread" in html


def test_pages_never_show_a_storage_password() -> None:
    from dashboard.data import hide_password

    assert hide_password("postgresql://nas:s3cr:et@db.example:5432/nas") == (
        "postgresql://nas:***@db.example:5432/nas"
    )
    assert hide_password("postgresql://nas@db/nas") == "postgresql://nas@db/nas"
    assert hide_password("sqlite:////tmp/studies.db") == "sqlite:////tmp/studies.db"


def test_supernet_study_pages_say_inherited_acc_fidelity_and_anchors(
    storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issues 20 and 24: the dashboard and the report label a supernet study's accuracy as
    inherited, print its fidelity line (or that none was measured) and mark the anchors."""
    from dashboard.layout import study_header
    from dashboard.report import render_report
    from nas.storage import fidelity
    from tests.commands.test_show_evidence import anchor_front, record

    records = tmp_path / "records.json"
    records.write_text(json.dumps([record()]))
    monkeypatch.setattr(fidelity, "RECORDS", records)
    make_study(storage_url, "fm", 12, space="mobile", data="fashion-mnist")
    make_study(storage_url, "dg", 4, space="mobile", data="digits")
    make_study(storage_url, "tb", 4, space="mobile", evaluator="table:t.csv")
    roles = anchor_front(storage_url, "fm")
    r = Reader(storage_url)
    d = r.study("fm")
    line = "Kendall tau 0.62 [0.48, 0.74] (seed-to-seed 0.85); measured 2026-12-07"
    header = _texts(study_header(d))
    assert line in header and "inherited acc: scored with the supernet" in header
    assert "the space's anchors, scored first by every new search" in header
    p = info.pareto_info(d)
    fig = fg.plot_pareto(p, selected=p.knee)
    assert fig.layout.yaxis.title.text == "inherited acc (%)"
    assert "inherited acc %{y:.2f} %" in fig.data[0].hovertemplate
    hovers = {
        n: t
        for tr in fig.data
        if tr.customdata is not None
        for n, t in zip(tr.customdata, tr.text, strict=True)
    }
    for number, role in roles.items():
        assert f"anchor: the space's {role} network" in hovers[number]
        assert f"anchor: the space's {role} network" in _texts(arch_panel(d, number, storage_url))
    assert (
        "best inherited acc (%)" in fg.plot_anytime(info.anytime_info(d)).layout.yaxis.title.text
    )
    assert "(inherited acc)" in _texts(studies_table(r.summaries(), storage_url))
    html = render_report(r, "fm")
    assert "<td>fidelity</td><td>supernet inherited accuracy ranks 41 reference" in html
    assert line in html and "<th>inherited acc % ± se</th>" in html
    assert "inherited acc (%)" in html  # the Pareto chart's axis
    for number, role in roles.items():
        assert re.search(rf"<td>{number}( \(knee\))? \({role} anchor\)</td>", html), number
    assert "<td>fidelity</td><td></td>" not in html  # no empty row (issue 24)
    # other data: said plainly; a table study: the table's accuracy, no fidelity line
    other = _texts(study_header(r.study("dg")))
    assert (
        "fidelity: not measured for this space and data (reference sets: mobile v3 on "
        "fashion-mnist)"
    ) in other
    assert "not measured" in render_report(r, "dg")
    table = r.study("tb")
    assert fg.plot_pareto(info.pareto_info(table)).layout.yaxis.title.text == "accuracy (%)"
    said = _texts(study_header(table))
    assert "fidelity" not in said and "accuracy: the table's own" in said
