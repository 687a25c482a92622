"""``nas show`` says what the accuracy is and how far to trust it, in an 80-column terminal:
the inherited label, the fidelity line (or that none was measured) and the anchors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from nas.storage import keys
from tests.commands.test_tables_80_columns import _in_pty
from tests.dashboard.synthetic import make_study
from tests.storage.records import fidelity_record


def record(**changes: Any) -> dict[str, Any]:
    """A fidelity record (nas.storage.fidelity) of the real mobile space on Fashion-MNIST."""
    from nas.spaces import load_space

    return fidelity_record(**{"space_digest": load_space("mobile").digest, **changes})


def anchor_front(url: str, name: str) -> dict[int, str]:
    """Record the fastest and the most accurate trial of the front as the study's anchors."""
    import optuna

    from nas.analysis.results import pareto_front
    from nas.storage import studies as st

    study = optuna.load_study(study_name=name, storage=url)
    front = pareto_front(st.complete_trials(study))
    small, large = front[0], front[-1]
    st.record_anchors(
        study,
        {
            large.user_attrs[keys.ARCH_HASH]: "largest",
            small.user_attrs[keys.ARCH_HASH]: "smallest",
        },
    )
    return {large.number: "largest", small.number: "smallest"}


def _show(study: str, url: str, records: Path) -> str:
    """``nas show STUDY`` in an 80-column terminal, reading ``records`` as the shipped file."""
    code = (
        "import sys, pathlib; from nas.storage import fidelity; "
        f"fidelity.RECORDS = pathlib.Path({str(records)!r}); "
        "from nas.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return _in_pty([], cmd=[sys.executable, "-c", code, "show", study, "--storage", url])


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "fidelity_records.json"
    path.write_text(json.dumps([record()]))
    return path


def test_show_prints_the_fidelity_line_inherited_label_and_anchors_at_80_columns(
    storage_url: str, records: Path
) -> None:
    make_study(storage_url, "fm", 12, space="mobile", data="fashion-mnist")
    roles = anchor_front(storage_url, "fm")
    out = _show("fm", storage_url, records)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80, out
    flat = " ".join(out.split())
    assert (
        "fidelity: supernet inherited accuracy ranks 41 reference architectures (mobile v3, "
        "fashion-mnist, 2 seeds) with Kendall tau 0.62 [0.48, 0.74] (seed-to-seed 0.85); "
        "measured 2026-12-07"
    ) in flat, out
    assert "inherited acc: scored with the supernet's shared weights, not trained alone" in flat
    assert re.search(r"┃ +inherited ┃", out) and re.search(r"┃ +trial ┃ acc % ± se ┃", out), out
    for number, role in roles.items():
        assert re.search(rf"│ +{number} \({role}\) │ +\d+\.\d\d │", out), out
    assert "largest, smallest: the space's anchors, scored first by every new search" in flat


def test_show_says_no_fidelity_was_measured_for_other_data(
    storage_url: str, records: Path
) -> None:
    make_study(storage_url, "dg", 6, space="mobile", data="digits")
    out = _show("dg", storage_url, records)
    assert max(len(line) for line in out.splitlines()) <= 80, out
    flat = " ".join(out.split())
    assert (
        "fidelity: not measured for this space and data (reference sets: mobile v3 on "
        "fashion-mnist)"
    ) in flat, out
    assert "(largest)" not in out  # a study without recorded anchors marks none
