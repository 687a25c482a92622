"""The partial plotly.js bundle holds every trace type the dashboard draws."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from dashboard import plotlyjs

ROOT = Path(__file__).resolve().parents[2]


def _bundled() -> set[str]:
    entry = (ROOT / "dashboard" / "js" / "entry.js").read_text()
    return {"scatter"} | set(re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry))


def _drawn() -> set[str]:
    """Trace types constructed anywhere in dashboard/ (``go.Scattergl(...)`` and the like)."""
    names: set[str] = set()
    for path in (ROOT / "dashboard").glob("*.py"):
        names |= set(re.findall(r"\bgo\.([A-Z]\w*)\(", path.read_text()))
    classes = [getattr(go, n) for n in names]
    return {c().type for c in classes if isinstance(c, type) and issubclass(c, BaseTraceType)}


def test_every_drawn_trace_type_is_in_the_bundle() -> None:
    drawn = _drawn()
    assert {"scatter", "scattergl", "histogram", "bar", "heatmap", "table"} <= drawn
    assert drawn <= _bundled(), drawn - _bundled()


def test_bundle_matches_the_installed_plotly() -> None:
    # otherwise the dashboard falls back to the full plotly.js (4.8 MB, ~1 s slower first render):
    # rebuild it with scripts/build_plotly_bundle.sh after upgrading plotly
    from plotly.offline import get_plotlyjs_version

    assert plotlyjs.BUNDLE.is_file()
    assert get_plotlyjs_version() == plotlyjs.BUNDLE_VERSION
    head = plotlyjs.BUNDLE.read_text(encoding="utf-8")[:300]
    assert f"plotly.js v{plotlyjs.BUNDLE_VERSION} partial bundle" in head
    assert plotlyjs.bundle_usable()
