"""``nas dashboard`` in a real headless Chromium: studies table, Pareto points, click to see a
network, live refresh, no console errors, and a screenshot.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/test.sh installs them in CI).
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from nas.storage import keys
from tests import browser as chrome
from tests.conftest import nas_cmd, subprocess_env

WAIT = 90  # seconds; CI shares two cores with everything else

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chrome.available(),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/test.sh installs them)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_db(url: str, dest: Path) -> str:
    """A private copy of the shared searched storage (this test adds a trial to it)."""
    src = sqlite3.connect(url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{dest}"


@pytest.fixture
def served(searched_storage: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    from nas.spaces import load_space
    from tests.conftest import TINY
    from tests.dashboard.synthetic import FINGERPRINT_ID
    from tests.dashboard.test_dashboard_info import _store_table

    url = _copy_db(searched_storage, tmp_path / "studies.db")
    _store_table(url, load_space(str(TINY)).digest, FINGERPRINT_ID)  # for the hardware view
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        nas_cmd("dashboard", "--storage", url, "--port", str(port), "--refresh", "1"),
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dashboard did not start: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.3)
        yield base, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    driver = chrome.chromium(tmp_path / "chromium-profile", console_log=True)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


PARETO_JS = """
const g = document.querySelector('#pareto-graph .js-plotly-plot');
if (!g || !g.data) return null;
return g.data.map(t => (t.customdata || []).map(Number));
"""

# The centre of one plotted point that has no other point within 12 px (so a click there can
# only mean that trial), with the trial number Plotly reports for it.
PICK_JS = """
const g = document.querySelector('#pareto-graph .js-plotly-plot');
const traces = g.querySelectorAll('.scatterlayer .trace');
const pts = [];
traces.forEach((tr, i) => tr.querySelectorAll('path.point').forEach((p, j) => {
  const r = p.getBoundingClientRect();
  pts.push({x: r.left + r.width / 2, y: r.top + r.height / 2, n: g.data[i].customdata[j]});
}));
const lone = pts.filter(a => pts.every(b => a === b || Math.hypot(a.x - b.x, a.y - b.y) > 12));
return lone.length ? lone[lone.length - 1] : null;
"""


# The studies table as {name: row text}, read in one script so a refresh that re-renders the
# table between two reads cannot leave the test holding a detached row.
STUDIES_JS = """
const rows = document.querySelectorAll('#studies-table tr.study-row');
if (!rows.length) return null;
const out = {};
rows.forEach(r => { const a = r.querySelector('a'); if (a) out[a.textContent] = r.innerText; });
return out;
"""


# The marker symbol Plotly was given for trial ``arguments[0]`` and the legend as drawn.
NOISY_JS = """
const g = document.querySelector('#pareto-graph .js-plotly-plot');
if (!g || !g.data) return null;
for (const t of g.data) {
  const j = (t.customdata || []).map(Number).indexOf(arguments[0]);
  if (j < 0) continue;
  const s = t.marker && t.marker.symbol;
  const legend = [...g.querySelectorAll('.legendtext')].map(e => e.textContent);
  return legend.length ? {symbol: Array.isArray(s) ? s[j] : s, legend: legend} : null;
}
return null;
"""


def _text(driver, element_id: str) -> str | None:  # type: ignore[no-untyped-def]
    """An element's text, read in the page (never a stale reference), or None if absent."""
    return driver.execute_script(  # type: ignore[no-any-return]
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : null;",
        element_id,
    )


def _completed(url: str, study: str) -> list[int]:
    s = optuna.load_study(study_name=study, storage=url)
    return [t.number for t in s.get_trials(states=(TrialState.COMPLETE,))]


def test_dashboard_in_a_real_browser(served: tuple[str, str], browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    base, url = served
    # The page refreshes itself every second (--refresh 1), so any element may be replaced
    # between finding and using it: every step waits for a condition that is read in the page
    # in one go, and a step that must hold an element finds it again when it went stale.
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(base + "/")

    # ---- the studies table lists both studies --------------------------------------------
    table = wait.until(lambda d: (t := d.execute_script(STUDIES_JS)) and len(t) == 2 and t)
    assert set(table) == {"nsga", "capped"}
    assert "6 / 6" in table["nsga"] and "4 / 4" in table["capped"]

    # ---- the study page: one Pareto point per completed trial ---------------------------
    # clicked in the page, in one script: no element handle to go stale between find and click
    click = (
        "const a = [...document.querySelectorAll('#studies-table a')]"
        ".find(e => e.textContent === arguments[0]); if (a) a.click(); return !!a;"
    )
    wait.until(lambda d: d.execute_script(click, "nsga"))
    done = _completed(url, "nsga")
    data = wait.until(lambda d: d.execute_script(PARETO_JS))
    assert sorted(n for trace in data for n in trace) == done
    count = "return document.querySelectorAll('#pareto-graph .scatterlayer path.point').length"
    wait.until(lambda d: d.execute_script(count) == len(done))

    # ---- clicking a point shows that trial's network --------------------------------------
    pick = wait.until(lambda d: d.execute_script(PICK_JS))
    actions = ActionChains(browser)
    actions.w3c_actions.pointer_action.move_to_location(int(pick["x"]), int(pick["y"]))
    actions.w3c_actions.pointer_action.click()
    actions.perform()
    n = int(pick["n"])
    wait.until(lambda d: _text(d, "arch-title") == f"Trial {n} (clicked)")
    assert f"--trial {n} " in (_text(browser, "export-cmd") or "")
    trial = optuna.load_study(study_name="nsga", storage=url).trials[n]
    depth = sum(len(s) for s in _layers(trial.user_attrs[keys.ARCH]))
    bars = (
        "const g = document.querySelector('#arch-graph .js-plotly-plot');"
        "return g && g.data && g.data.length ? g.data[0].x.length : null;"
    )
    assert wait.until(lambda d: d.execute_script(bars)) == depth
    # stages named as the space's labels; the colour scale is the space's kernels (tiny: 3, 5)
    # whatever this network uses, so a colour means one kernel in every network
    # (read in one script each, null until drawn: the page re-renders every second)
    scale = wait.until(
        lambda d: d.execute_script(
            "const g = document.querySelector('#arch-graph .js-plotly-plot');"
            "const t = g && g.data && g.data[0];"
            "return t ? [t.x[0], t.marker.cmin, t.marker.cmax] : null;"
        )
    )
    assert scale == ["stage0.layer0", 3, 5]
    # the one-line form wraps inside its panel instead of running out of it
    overflow = (
        "const e = document.getElementById('arch-str');"
        "return e && e.clientWidth ? [e.scrollWidth - e.clientWidth] : null;"
    )
    assert wait.until(lambda d: d.execute_script(overflow))[0] <= 0
    browser.save_screenshot(str(tmp_path / "study.png"))

    # ---- the hardware view draws the stored lookup table as a heatmap --------------------
    heat = wait.until(
        lambda d: d.execute_script(
            "const g = document.querySelector('#lut-view .js-plotly-plot');"
            "return g && g.data && g.data.length ? [g.data[0].type, g.data[0].x] : null;"
        )
    )
    assert heat == ["heatmap", ["k3 e3", "k3 e6", "k5 e3"]]
    # titled by its target and space, not by hashes
    heading = wait.until(
        lambda d: d.execute_script(
            "const t = document.querySelector('#lut-view .gtitle'); return t && t.textContent;"
        )
    )
    assert "target cpu (torch 2.5.1, 1 thread), space tiny" in heading, heading
    drawn = (
        "return document.querySelectorAll('#lut-view .heatmaplayer image, #lut-view .hm').length"
    )
    assert browser.execute_script(drawn) > 0
    # under it, the stored fit's validation on held-out networks and the verdict
    fit = wait.until(lambda d: _text(d, "lut-fit"))
    for cell in ("held-out networks", "Kendall tau", "0.867", "3.1 %", "8.1 %", "10"):
        assert cell in fit, (cell, fit)
    assert "yes: passed its validation" in fit
    browser.execute_script("document.getElementById('lut-view').scrollIntoView();")
    browser.save_screenshot(str(tmp_path / "hardware.png"))
    browser.execute_script("window.scrollTo(0, 0);")

    # ---- a trial written by another process shows up without a reload -------------------
    study = optuna.load_study(study_name="nsga", storage=url)
    t = study.trials[0]
    stats = {**t.user_attrs[keys.LATENCY], "median_ms": 0.001, "p10_ms": 0.001, "p90_ms": 0.01}
    stats["noisy"] = True  # and drawn as such
    attrs = {**t.user_attrs, keys.ACCURACY: 0.99, keys.LATENCY_MS: 0.001, keys.LATENCY: stats}
    study.add_trial(
        create_trial(
            params=t.params, distributions=t.distributions, values=[0.99, 0.001], user_attrs=attrs
        )
    )
    new = len(done)
    data = wait.until(
        lambda d: (x := d.execute_script(PARETO_JS)) and new in [n for tr in x for n in tr] and x
    )
    assert sorted(n for trace in data for n in trace) == [*done, new]
    # the noisy one is an open marker, and the legend says what that means (not only a hover)
    noisy = wait.until(lambda d: d.execute_script(NOISY_JS, new))
    assert noisy["symbol"] == "circle-open"
    assert any(t.startswith("~ noisy latency (open marker)") for t in noisy["legend"]), noisy
    wait.until(lambda d: "7 complete / 6 budget" in (_text(d, "study-progress") or ""))

    # ---- parameter importance arrives after the first render (from a worker process) ----
    imp = wait.until(
        lambda d: d.execute_script(
            "const g = document.querySelector('#importance-graph .js-plotly-plot');"
            "return g && g.data && g.data.length ? g.data.map(t => [t.type, t.name]) : null;"
        )
    )
    assert imp == [["bar", "accuracy"], ["bar", "latency_ms"]]
    browser.save_screenshot(str(tmp_path / "study-refreshed.png"))

    # ---- a study that does not exist is explained, not a traceback ---------------------
    browser.get(base + "/study/nope")
    missing = wait.until(lambda d: _text(d, "study-missing"))
    assert missing.endswith("no study named 'nope' in " + url + "; studies here: nsga, capped")

    # ---- nothing went wrong in the page ----------------------------------------------------
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    browser.save_screenshot(str(tmp_path / "missing.png"))
    assert (tmp_path / "study.png").stat().st_size > 10_000
    for shot in ("study.png", "hardware.png", "study-refreshed.png"):
        chrome.keep(tmp_path / shot)


def _layers(arch: dict) -> list[list[int]]:
    from dashboard.arch import ChainArch, arch_info

    a = arch_info(arch)
    assert isinstance(a, ChainArch)
    return [list(range(d)) for d in a.depths]
