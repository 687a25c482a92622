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
  // traces with data (not a legend-only entry such as the noisy-marker key)
  types: (g.data || []).filter(
    t => t.type === 'heatmap' || [...(t.x || []), ...(t.y || [])].some(v => v !== null)
  ).map(t => t.type || 'scatter'),
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
    _mark_noisy(url, "nsga")
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


def _mark_noisy(url: str, study: str) -> None:
    """Every latency of ``study`` flagged noisy (the searched one may have none or some)."""
    import json
    import sqlite3

    from nas.storage import keys

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    rows = db.execute(
        "select a.trial_id, a.value_json from trial_user_attributes a join trials t "
        "using (trial_id) join studies s using (study_id) where a.key = ? and s.study_name = ?",
        (keys.LATENCY, study),
    ).fetchall()
    for tid, value in rows:
        db.execute(
            "update trial_user_attributes set value_json = ? where trial_id = ? and key = ?",
            (json.dumps({**json.loads(value), "noisy": True}), tid, keys.LATENCY),
        )
    db.commit()
    db.close()


# The noisy marks as drawn: the Pareto figure's point symbols (Plotly draws an open marker
# with no fill), its legend texts, and the latency cells of the front table.
NOISY_JS = """
const g = document.getElementById('fig-pareto');
const points = [...g.querySelectorAll('.scatterlayer .trace path.point')];
return {
  points: points.length,
  unfilled: points.filter(p => (p.style.fill || '').replace(/ /g, '') === 'none').length,
  legend: [...g.querySelectorAll('.legendtext')].map(e => e.textContent),
  cells: [...document.querySelectorAll('table')].filter(
    t => t.querySelector('th') && t.querySelector('th').textContent === 'trial'
  ).flatMap(t => [...t.querySelectorAll('tbody tr')].map(r => r.cells[2].textContent)),
};
"""


# The table of the lookup table's fits, as the page shows it (its header and first row).
FIT_JS = """
const t = [...document.querySelectorAll('table')].find(
  t => [...t.querySelectorAll('th')].some(h => h.textContent === 'held-out networks')
);
return t && {
  head: [...t.querySelectorAll('th')].map(h => h.innerText),
  row: [...t.querySelector('tbody tr').cells].map(c => c.innerText),
};
"""


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
        # every latency is noisy: each point is drawn open, the legend says what that means,
        # and every latency of the front table carries the mark
        noisy = driver.execute_script(NOISY_JS)
        assert noisy["points"] >= 1 and noisy["unfilled"] == noisy["points"], noisy
        assert any(t.startswith("~ noisy latency (open marker)") for t in noisy["legend"]), noisy
        assert noisy["cells"] and all(c.endswith("~") for c in noisy["cells"]), noisy
        # under the lookup table, its fit's validation on held-out networks and the verdict
        fit = driver.execute_script(FIT_JS)
        assert fit and fit["head"][3:7] == [
            "held-out networks",
            "Kendall tau",
            "median error",
            "worst error",
        ], fit
        assert fit["row"][3:7] == ["10", "0.867", "3.1 %", "8.1 %"], fit
        assert fit["row"][-1] == "yes: passed its validation", fit
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        shot = tmp_path / "report.png"
        chrome.full_page_screenshot(driver, shot)
        assert shot.stat().st_size > 10_000
        chrome.keep(shot)
    finally:
        driver.quit()
