"""The search options are declared once (nas.search.options): CLI, library and API schema agree."""

from __future__ import annotations

import argparse
import json

import pytest

from nas.commands.arguments import add_arguments, from_args
from nas.errors import OptionError
from nas.search.options import SearchOptions, flag


def _parse(argv: list[str]) -> SearchOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(argv))


def test_every_field_is_a_flag_with_its_default_in_the_help() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    for name, info in SearchOptions.model_fields.items():
        action = actions[name]
        assert action.option_strings == [flag(name)]
        assert info.description and action.help.startswith(info.description)
        if info.default is not None and name != "budget":
            assert f"default {info.default}" in action.help, name


def test_help_reads_the_registries() -> None:
    from nas.strategies import get_strategy, strategy_names

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    for name in strategy_names():
        assert name in actions["strategy"].help
        s = get_strategy(name)
        assert f"{s.budget_unit} (default {s.default_budget})" in actions["budget"].help


def test_literal_choices_match_the_code_that_uses_them() -> None:
    from nas.evaluators.base import LATENCY_MODES
    from nas.hardware import target_names
    from nas.hardware.timing import CLOCKS

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    assert tuple(actions["clock"].choices) == CLOCKS
    assert tuple(actions["latency"].choices) == LATENCY_MODES
    for name in target_names():
        assert name in actions["target"].help


def test_only_given_options_are_set_and_the_rest_are_defaults() -> None:
    opts = _parse(["--budget", "7", "--objective", "weighted", "--latency-target-ms", "3"])
    assert opts == SearchOptions(budget=7, objective="weighted", latency_target_ms=3.0)
    assert opts.model_fields_set == {"budget", "objective", "latency_target_ms"}
    assert opts.given() == {"budget": 7, "objective": "weighted", "latency_target_ms": 3.0}


def test_the_model_is_json_and_round_trips() -> None:
    opts = SearchOptions(strategy="evolution", max_latency_ms=5.0, seed=3)
    text = opts.model_dump_json()
    assert SearchOptions.model_validate_json(text) == opts
    schema = SearchOptions.model_json_schema()
    json.dumps(schema)
    assert schema["properties"]["budget"]["minimum"] == 1
    assert schema["additionalProperties"] is False


def test_validation_errors_become_one_line() -> None:
    with pytest.raises(OptionError, match="^--budget must be at least 1, got 0$"):
        SearchOptions.model_validate({"budget": 0})  # what a FastAPI body does
    with pytest.raises(OptionError, match="^--budget must be at least 1, got 0$"):
        SearchOptions.model_validate_json('{"budget": 0}')
    with pytest.raises(OptionError, match="^--seed: input should be a valid integer"):
        SearchOptions(seed="x")
    cases = {
        "budget": (0, "--budget must be at least 1, got 0"),
        "calib_batches": (0, "--calib-batches must be at least 1, got 0"),
        "threads": (0, "--threads must be at least 1, got 0"),
        "latency_target_ms": (float("inf"), "--latency-target-ms must be a finite number"),
        "latency_weight": (float("nan"), "--latency-weight must be a finite number"),
        "max_latency_ms": (0.0, "--max-latency-ms must be > 0, got 0.0"),
        "objective": ("best", "--objective must be 'pareto' or 'weighted', got 'best'"),
        "latency": ("guessed", "--latency must be one of measured, predicted, hybrid"),
        "strategy": ("annealing", "unknown strategy 'annealing'; known strategies: "),
        "colour": ("red", "unknown option 'colour'"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(OptionError) as err:
            SearchOptions(**{name: value})
        assert str(err.value).startswith(message), (name, str(err.value))
        assert "\n" not in str(err.value)


def test_darts_has_its_own_budget_and_refuses_options_it_does_not_use() -> None:
    assert SearchOptions().budget == 200
    assert SearchOptions(strategy="darts").budget == 20
    assert SearchOptions(strategy="darts", budget=3).budget == 3
    for name, value in [
        ("supernet_epochs", 5),
        ("workers", 2),
        ("evaluator", "synthetic"),
        ("accuracy_column", "acc"),
    ]:
        with pytest.raises(OptionError, match=f"--strategy darts does not use {flag(name)}"):
            SearchOptions(strategy="darts", **{name: value})
    for name, value in [("darts_order", 2), ("darts_arch_lr", 0.1), ("darts_latency_weight", 1.0)]:
        with pytest.raises(OptionError, match=f"--strategy nsga2 does not use {flag(name)}"):
            SearchOptions(**{name: value})
        SearchOptions(strategy="darts", **{name: value})
