"""The storage stays readable by the real optuna-dashboard (its WSGI app and JSON API)."""

from __future__ import annotations

import json
from io import BytesIO
from wsgiref.util import setup_testing_defaults

import optuna
from optuna.trial import TrialState

from nas.storage import keys


def _get(app, path: str) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET", **{"wsgi.input": BytesIO()})
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    return status[0], json.loads(body)


def test_optuna_dashboard_lists_every_study_and_trial(searched_storage: str) -> None:
    from optuna_dashboard import wsgi

    app = wsgi(searched_storage)
    status, listing = _get(app, "/api/studies")
    assert status.startswith("200")
    listed = {s["study_name"]: s for s in listing["study_summaries"]}
    expected = {s.study_name: s for s in optuna.get_all_study_summaries(searched_storage)}
    assert set(listed) == set(expected) == {"nsga", "capped"}
    for name, summary in listed.items():
        assert summary["directions"] == ["maximize", "minimize"]
        status, detail = _get(app, f"/api/studies/{summary['study_id']}")
        assert status.startswith("200"), detail
        assert detail["name"] == name
        assert detail["objective_names"] == [keys.ACCURACY, keys.LATENCY_MS]
        study = optuna.load_study(study_name=name, storage=searched_storage)
        ours = {t.number: t for t in study.trials}
        theirs = {t["number"]: t for t in detail["trials"]}
        assert set(theirs) == set(ours) and len(ours) >= 4
        for number, t in ours.items():
            shown = theirs[number]
            assert shown["state"].lower() == t.state.name.lower()
            if t.state == TrialState.COMPLETE:
                assert [float(v) for v in shown["values"]] == t.values
                attrs = {a["key"]: a["value"] for a in shown["user_attrs"]}
                assert float(attrs[keys.ACCURACY]) == t.user_attrs[keys.ACCURACY]
                assert float(attrs[keys.LATENCY_MS]) == t.user_attrs[keys.LATENCY_MS]
                assert json.loads(attrs[keys.ARCH]) == t.user_attrs[keys.ARCH]
