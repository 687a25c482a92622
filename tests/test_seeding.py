"""No global randomness in ``nas/``: every stochastic part owns its generator.

The one sanctioned call of a global seeding function is :func:`nas.supernet.seeding.seeded`,
which forks torch's generator around module construction. Any other call (``torch.manual_seed``,
``numpy.random.seed``, ``random.seed``, module-level ``random.choice`` and friends, an unseeded
``torch.randn``) fails this test with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from nas.supernet.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {ROOT / "nas" / "supernet" / "seeding.py"}
GLOBAL_SEEDERS = {"manual_seed", "seed", "manual_seed_all", "set_rng_state"}
GLOBAL_DRAWS = {  # module-level functions that draw from a hidden global generator
    "random": {"random", "choice", "choices", "sample", "shuffle", "randint", "uniform", "gauss"},
    "np.random": {"rand", "randn", "randint", "choice", "permutation", "shuffle", "normal"},
    "torch": {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "normal"},
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


SEEDER_OWNERS = {"torch", "torch.random", "torch.cuda", "random", "np.random", "numpy.random"}


def _is_global(owner: str, name: str, call: ast.Call) -> bool:
    if name in GLOBAL_SEEDERS:
        return owner in SEEDER_OWNERS
    unseeded = not any(k.arg == "generator" for k in call.keywords)
    return name in GLOBAL_DRAWS.get(owner, ()) and unseeded


def offences(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = _dotted(node.func.value), node.func.attr
            if _is_global(owner, name, node):
                found.append(f"{where}:{node.lineno} {owner}.{name}")
    return found


def test_nothing_in_nas_seeds_or_draws_from_a_global_generator() -> None:
    found = [
        o
        for p in sorted((ROOT / "nas").rglob("*.py"))
        if p not in ALLOWED
        for o in offences(p.read_text(), str(p.relative_to(ROOT)))
    ]
    assert not found, "global randomness (use an owned generator or seeded()): " + ", ".join(found)


def test_the_scan_finds_what_it_forbids() -> None:
    probe = (
        "import random, torch\nimport numpy as np\n"
        "torch.manual_seed(0)\nnp.random.seed(1)\nrandom.shuffle([])\n"
        "torch.randn(3)\ntorch.randn(3, generator=g)\nrandom.Random(0).shuffle([])\n"
    )
    got = [o.split(" ")[1] for o in offences(probe, "probe.py")]
    assert got == ["torch.manual_seed", "np.random.seed", "random.shuffle", "torch.randn"]


def test_seeded_builds_alike_and_leaves_the_callers_state_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(7):
        a = torch.nn.Linear(4, 3).weight.detach().clone()
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded(7):
        b = torch.nn.Linear(4, 3).weight.detach().clone()
    with seeded(8):
        c = torch.nn.Linear(4, 3).weight.detach().clone()
    assert torch.equal(a, b) and not torch.equal(a, c)
