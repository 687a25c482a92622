"""One fidelity record (nas.storage.fidelity) for tests: the mobile space on Fashion-MNIST."""

from __future__ import annotations

from typing import Any


def fidelity_record(**changes: Any) -> dict[str, Any]:
    """A valid record as its JSON object, with ``changes`` applied (default digest: a made-up
    one; pass ``space_digest=load_space("mobile").digest`` to match the real space)."""
    return {
        "space": "mobile",
        "space_version": 3,
        "space_digest": "d1g3st",
        "data": "fashion-mnist",
        "scorer": "supernet",
        "kendall_tau": 0.62,
        "kendall_tau_ci": [0.48, 0.74],
        "spearman_rho": 0.8,
        "architectures": 41,
        "seeds": 2,
        "seed_tau": 0.85,
        "reference": "benchmarks/reference/mobile-v3-fashion-mnist.csv",
        "measured": "2026-12-07",
        **changes,
    }
