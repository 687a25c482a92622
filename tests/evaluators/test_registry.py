"""Evaluators are registered by name: help, validation and building all come from the registry."""

from __future__ import annotations

from collections.abc import Iterator

import optuna
import pytest
from optuna.trial import TrialState

from nas.cli import main
from nas.evaluators import factory
from nas.evaluators.base import Evaluation, Evaluator
from nas.evaluators.factory import (
    EvaluatorKind,
    EvaluatorPlan,
    evaluator_names,
    get_evaluator_kind,
    register_evaluator,
)
from nas.search.driver import run_search
from nas.search.options import SearchOptions
from nas.storage import keys


class ConstantEvaluator(Evaluator):
    """Every network scores the same: the plug-in a user would write first."""

    name = "constant"

    def __init__(self, accuracy: float) -> None:
        self.accuracy = accuracy

    def evaluate(self, arch, arch_hash: str) -> Evaluation:  # type: ignore[no-untyped-def]
        return Evaluation(self.accuracy, 1.0 + len(arch_hash) / 100, {keys.LATENCY_SOURCE: "x"})


def _check_constant(opts, space, arg: str) -> EvaluatorPlan:  # type: ignore[no-untyped-def]
    value = float(arg or 0.5)
    return EvaluatorPlan("constant", f"constant:{value}", prebuilt=ConstantEvaluator(value))


@pytest.fixture
def constant_registered() -> Iterator[None]:
    register_evaluator(EvaluatorKind("constant", "constant[:ACC]", "a test", _check_constant))
    yield
    del factory._REGISTRY["constant"]


def test_the_built_in_kinds_are_registered() -> None:
    assert set(evaluator_names()) >= {"supernet", "table", "zero-cost", "synthetic"}
    kind, arg = get_evaluator_kind("zero-cost:naswot")
    assert (kind.name, arg) == ("zero-cost", "naswot")


def test_a_registered_kind_is_in_the_help_and_searches(
    constant_registered: None, tmp_path, capsys
) -> None:
    assert main(["search", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "constant[:ACC]: a test" in help_text
    schema = SearchOptions.model_json_schema()["properties"]["evaluator"]["description"]
    assert "constant[:ACC]: a test" in schema  # the service's OpenAPI reads the same registry
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    result = run_search(
        SearchOptions(space="mobile", budget=3, evaluator="constant:0.25", storage=url, study="c")
    )
    trials = optuna.load_study(study_name="c", storage=url).get_trials(
        states=(TrialState.COMPLETE,)
    )
    assert result.completed == 3 and result.settings.evaluator == "constant:0.25"
    assert [t.values[0] for t in trials] == [0.25] * 3


def test_an_unknown_kind_is_one_line_naming_the_registered_ones(tmp_path, capsys) -> None:
    db = tmp_path / "studies.db"
    code = main(["search", "--evaluator", "bogus", "--storage", f"sqlite:///{db}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not db.exists()
    assert len(err) == 1 and "unknown evaluator 'bogus'" in err[0]
    for usage in ("supernet", "table:PATH.csv", "zero-cost[:NAME|vote]", "synthetic[:SECONDS]"):
        assert usage in err[0]
