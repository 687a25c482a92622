"""``nas report`` opened in a real headless Chromium, from disk as a user opens it: every figure
is drawn (its SVG holds the traces its data has), nothing goes wrong in the console, and a
screenshot is kept (tests/browser.py ``ARTIFACTS``).

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/test.sh installs them in CI).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import browser as chrome
from tests.conftest import nas_cmd, subprocess_env
from tests.integration.test_dashboard_browser import WAIT, _copy_db

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chrome.available(),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/test.sh installs them)",
    ),
]

# Per figure: how many traces its data has and how many Plotly drew with visible marks
# (a scatter trace's points or line, a bar's rectangles, a heatmap's image).
FIGURES_JS = """
const drawn = tr => [...tr.querySelectorAll('path, image')].some(
  e => e.tagName === 'image' ? !!e.getAttribute('href') || !!e.getAttribute('xlink:href')
                             : (e.getAttribute('d') || '').length > 4);
return [...document.querySelectorAll('.js-plotly-plot')].map(g => ({
  id: g.id,
  ready: !!g._fullLayout && !!g.querySelector('.main-svg'),
  types: (g.data || []).map(t => t.type || 'scatter'),
  drawn: [...g.querySelectorAll('.scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm')]
    .filter(drawn).length,
}));
"""


@pytest.fixture
def report(searched_storage: str, tmp_path: Path) -> Path:
    from nas.spaces import load_space
    from tests.conftest import TINY
    from tests.dashboard.synthetic import FINGERPRINT_ID
    from tests.dashboard.test_dashboard_info import _store_table

    url = _copy_db(searched_storage, tmp_path / "studies.db")
    _store_table(url, load_space(str(TINY)).digest, FINGERPRINT_ID)  # for the lookup-table map
    out = tmp_path / "report.html"
    done = subprocess.run(
        nas_cmd("report", "nsga", "-o", str(out), "--storage", url),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_report_draws_every_figure_in_a_real_browser(report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome.chromium(tmp_path / "chromium-profile", console_log=True)
    driver.set_page_load_timeout(WAIT)
    try:
        driver.get(report.as_uri())
        figs = WebDriverWait(driver, WAIT).until(
            lambda d: (f := d.execute_script(FIGURES_JS)) and all(x["ready"] for x in f) and f
        )
        by_id = {f["id"]: f for f in figs}
        # pareto, anytime, latency, the knee's network, importance, predicted, cache, table
        assert len(figs) == 8, [f["id"] for f in figs]
        for f in figs:  # every trace that has data is on the page, not only in the JSON
            drawable = [t for t in f["types"] if t in ("scatter", "bar", "histogram", "heatmap")]
            assert f["drawn"] == len(drawable), f
        assert by_id["fig-pareto"]["drawn"] >= 1
        assert by_id["fig-arch"]["types"][0] == "bar" and by_id["fig-arch"]["drawn"] >= 1
        assert by_id["fig-lut0"]["types"] == ["heatmap"] and by_id["fig-lut0"]["drawn"] == 1
        assert by_id["fig-importance"]["drawn"] == 2
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        shot = tmp_path / "report.png"
        chrome.full_page_screenshot(driver, shot)
        assert shot.stat().st_size > 10_000
        chrome.keep(shot)
    finally:
        driver.quit()
