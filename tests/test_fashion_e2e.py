"""``nas search`` on Fashion-MNIST end to end, on a small subset (issue 11).

Runs in CI: scripts/test.sh installs Debian's dataset-fashion-mnist. Where it is missing the
test is skipped with the reason.
"""

from __future__ import annotations

import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from nas.data import fashion_available
from nas.storage import keys
from tests.conftest import nas_cmd, subprocess_env

pytestmark = pytest.mark.skipif(
    not fashion_available(),
    reason="Debian's dataset-fashion-mnist is not installed (scripts/test.sh installs it)",
)
SMALL = ["--train-images", "300", "--val-images", "200", "--supernet-epochs", "1"]


def _search(db: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    env.pop("NAS_DEFAULT_DATA", None)  # the real default: fashion-mnist where installed
    return subprocess.run(
        nas_cmd("search", "--space", "mobile", "--budget", "3", "--storage", db, *SMALL, *extra),
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def test_default_search_runs_on_fashion_mnist_with_one_input_shape(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'studies.db'}"
    r = _search(db, "--study", "f", "--evaluator", "supernet")
    assert r.returncode == 0, r.stderr
    study = optuna.load_study(study_name="f", storage=db)
    settings = study.user_attrs[keys.SETTINGS]
    assert settings["data"] == "fashion-mnist"  # resolved and recorded by name
    assert settings["options"]["data"] == "fashion-mnist"
    # one network, one input: accuracy and latency at the same shape
    assert settings["scoring_input"] == settings["latency_input"] == "1x3x28x28"
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3
    for t in trials:
        ua = t.user_attrs
        assert ua[keys.VAL_IMAGES] == 200
        p = ua[keys.ACCURACY]
        assert ua[keys.ACCURACY_SE] == pytest.approx((p * (1 - p) / 200) ** 0.5)
        assert ua[keys.FINGERPRINT] and ua[keys.LATENCY]["median_ms"] > 0
    show = _show(db, "f")
    assert "accuracy and latency at 1x3x28x28 (one network, one input)" in show
    assert "±" in show and "inherited" in show


def _show(db: str, study: str) -> str:
    show = subprocess.run(
        nas_cmd("show", study, "--storage", db),
        capture_output=True,
        text=True,
        timeout=120,
        env={**subprocess_env(), "COLUMNS": "80"},
    )
    assert show.returncode == 0, show.stderr
    return show.stdout


def test_the_default_evaluator_is_the_best_measured_scorer_and_says_how_good_it_is(
    tmp_path,
) -> None:  # type: ignore[no-untyped-def]
    """``--evaluator auto`` (the default) on mobile and Fashion-MNIST searches with the scorer
    that ranked the reference set best, records it, and ``nas show`` prints its fidelity."""
    from nas.spaces import load_space
    from nas.storage.fidelity import best_record

    space = load_space("mobile")
    best = best_record(space.name, space.digest, "fashion-mnist")
    assert best is not None, "the shipped records measure mobile on fashion-mnist"
    db = f"sqlite:///{tmp_path / 'studies.db'}"
    r = _search(db, "--study", "a")
    assert r.returncode == 0, r.stderr
    settings = optuna.load_study(study_name="a", storage=db).user_attrs[keys.SETTINGS]
    assert settings["evaluator"] == best.scorer  # recorded resolved: a resume scores alike
    show = _show(db, "a")
    assert f"Kendall tau {best.kendall_tau:.2f}" in " ".join(show.split())
    # the same command resumes the study (auto resolves the same way)
    again = _search(db, "--study", "a")
    assert again.returncode == 0, again.stderr


def test_latency_at_another_shape_is_an_explicit_recorded_proxy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'studies.db'}"
    r = _search(db, "--study", "p", "--latency-input", "1x3x64x64")
    assert r.returncode == 0, r.stderr
    study = optuna.load_study(study_name="p", storage=db)
    settings = study.user_attrs[keys.SETTINGS]
    assert settings["scoring_input"] == "1x3x28x28"
    assert settings["latency_input"] == "1x3x64x64"
    import sqlite3

    with sqlite3.connect(tmp_path / "studies.db") as con:  # the latency cache says the shape
        shapes = {r[0] for r in con.execute("SELECT input_shape FROM nas_latency")}
    assert shapes == {"1x3x64x64"}
    show = subprocess.run(
        nas_cmd("show", "p", "--storage", db),
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
    )
    assert "PROXY: accuracy at 1x3x28x28, latency at 1x3x64x64" in show.stdout


def test_bad_latency_input_is_one_line_and_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "studies.db"
    r = _search(f"sqlite:///{db}", "--latency-input", "224x224")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "BxCxHxW" in r.stderr
    assert not db.exists()
