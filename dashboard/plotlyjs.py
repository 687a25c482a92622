"""Which plotly.js the browser runs: the dashboard's partial bundle, or plotly's full one.

plotly's Python package ships the full plotly.js (4.8 MB, every trace type); a browser spends
about 1.4 s of a cold page load just evaluating it on a 2-core machine. The dashboard draws six
trace types, so it ships ``assets/plotly-nas.min.js`` (1.6 MB, built by
``scripts/build_plotly_bundle.sh`` from ``dashboard/js``), which evaluates in about 0.3 s. It is
used only while it is the same plotly.js version as plotly's package, so that figures written by
plotly.py always meet the plotly.js they were written for.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
BUNDLE = ASSETS / "plotly-nas.min.js"
BUNDLE_VERSION = "4.1.1"  # plotly.js in dashboard/js/package.json


@cache
def bundle_usable() -> bool:
    """True when the partial bundle exists and matches plotly's own plotly.js version."""
    from plotly.offline import get_plotlyjs_version

    full = get_plotlyjs_version()
    if not BUNDLE.is_file():
        log.info("no %s: the browser loads plotly's full plotly.js", BUNDLE)
        return False
    if full != BUNDLE_VERSION:
        log.warning(
            "plotly ships plotly.js %s, the dashboard's bundle is %s: using the full plotly.js "
            "(rebuild the bundle with scripts/build_plotly_bundle.sh)",
            full,
            BUNDLE_VERSION,
        )
        return False
    return True


def plotlyjs_source() -> str:
    """The plotly.js to inline in a static report."""
    if bundle_usable():
        return BUNDLE.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())
