from __future__ import annotations

import json
import random

import optuna
import pytest

from nas.errors import ArchitectureError
from nas.spaces import arch_hash, space_from_dict
from nas.spaces.optuna_adapter import distributions, suggest


def test_canonical_drops_inactive_layers(tiny_space) -> None:
    params = tiny_space.to_params(tiny_space.sample(random.Random(1)))
    params["stage0.depth"] = 1
    canon = tiny_space.canonical(params)
    assert "stage0.layer1.kernel" not in canon
    assert "stage0.layer0.kernel" in canon
    # values of inactive layers do not change the architecture or its hash
    other = dict(
        params, **{"stage0.layer2.kernel": 5 if params["stage0.layer2.kernel"] == 3 else 3}
    )
    assert tiny_space.hash(other) == tiny_space.hash(params)


def test_encode_decode_round_trip(tiny_space) -> None:
    rng = random.Random(0)
    for _ in range(50):
        arch = tiny_space.sample(rng)
        text = tiny_space.encode(arch)
        assert json.loads(text) == arch
        assert tiny_space.decode(text) == arch
        assert tiny_space.from_params(tiny_space.to_params(arch)) == arch


def test_hash_is_stable_and_depends_on_space(tiny_space) -> None:
    arch = {
        "stage0.depth": 1,
        "stage0.layer0.kernel": 3,
        "stage0.layer0.expand": 2,
        "stage1.depth": 1,
        "stage1.layer0.kernel": 5,
        "stage1.layer0.expand": 3,
    }
    h = tiny_space.hash(arch)
    assert h == arch_hash(tiny_space.digest, tiny_space.canonical(arch))
    assert len(h) == 16 and int(h, 16) >= 0
    # key order does not matter
    assert tiny_space.hash(dict(reversed(list(arch.items())))) == h
    # same labels in a space with other widths: another network, another hash
    other = space_from_dict({**tiny_space.model.model_dump(), "head_channels": 64})
    assert other.hash(arch) != h


def test_hash_is_fixed_across_processes(tiny_space) -> None:
    import subprocess
    import sys

    arch = tiny_space.sample(random.Random(3))
    from tests.conftest import ROOT, TINY

    code = (
        "import json,sys; from nas.spaces import load_space; "
        f"s=load_space({str(TINY)!r}); print(s.hash(json.loads(sys.argv[1])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arch)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == tiny_space.hash(arch)


def test_describe_is_one_line(tiny_space) -> None:
    arch = tiny_space.sample(random.Random(2))
    text = tiny_space.describe(arch)
    assert "\n" not in text and text.count("|") == len(tiny_space.stages) - 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stage0.layer0.kernel": 7}, "stage0.layer0.kernel=7 is not allowed"),
        ({"bogus": 1}, "labels not in space"),
        ({"stage0.depth": "2"}, "stage0.depth='2' is not allowed"),
    ],
)
def test_invalid_architectures(tiny_space, change, message) -> None:
    arch = {**tiny_space.to_params(tiny_space.sample(random.Random(0))), **change}
    with pytest.raises(ArchitectureError, match=message):
        tiny_space.canonical(arch)


def test_missing_choice(tiny_space) -> None:
    arch = tiny_space.sample(random.Random(0))
    del arch["stage1.depth"]
    with pytest.raises(ArchitectureError, match="missing choice 'stage1.depth'"):
        tiny_space.canonical(arch)


def test_mutation_changes_exactly_one_active_choice(tiny_space) -> None:
    rng = random.Random(0)
    for _ in range(100):
        arch = tiny_space.sample(rng)
        child = tiny_space.mutate(arch, rng)
        a, c = tiny_space.to_params(arch), tiny_space.to_params(child)
        both = set(tiny_space.active_labels(a)) & set(tiny_space.active_labels(c))
        changed = [k for k in both if a[k] != c[k]]
        assert len(changed) == 1


def test_size_matches_enumeration(tiny_space) -> None:
    # per layer 2*2 options; stage0 depth 1..3, stage1 depth 1..2
    assert tiny_space.size() == (4 + 16 + 64) * (4 + 16)
    assert len({tiny_space.encode(a) for a in tiny_space._enumerate()}) == tiny_space.size()


def test_optuna_adapter_round_trip(tiny_space) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dists = distributions(tiny_space)
    assert set(dists) == {c.label for c in tiny_space.choices}
    for _ in range(10):
        trial = study.ask()
        arch = suggest(trial, tiny_space)
        assert tiny_space.canonical(arch) == arch
        study.tell(trial, 0.0)
    # an architecture enqueued as parameters comes back as the same architecture
    target = tiny_space.sample(random.Random(9))
    study.enqueue_trial(tiny_space.to_params(target))
    assert suggest(study.ask(), tiny_space) == target
