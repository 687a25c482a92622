"""The dashboard inside ``nas serve`` in a real headless Chromium: the login form, then the
study page's figures and the studies table, with no console errors (the standalone
``nas dashboard`` has its own, fuller test in test_dashboard_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import browser as chrome
from tests.integration.test_dashboard_browser import (
    PARETO_JS,
    STUDIES_JS,
    WAIT,
    _completed,
    _copy_db,
)
from tests.service.helpers import TOKEN, Server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chrome.available(),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/test.sh installs them)",
    ),
]


@pytest.fixture
def served(searched_storage: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = _copy_db(searched_storage, tmp_path / "studies.db")
    server = Server(tmp_path, slots=0, storage=url).start()
    try:
        yield server.url, url
    finally:
        server.stop()


def test_served_dashboard_logs_in_and_draws_its_figures(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, url = served
    driver = chrome.chromium(tmp_path / "chromium-profile", console_log=True)
    driver.set_page_load_timeout(WAIT)
    try:
        wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
        # ---- a page asked for without the cookie goes to the login form, and back ---------
        driver.get(base + "/dashboard/study/nsga")
        wait.until(lambda d: d.find_elements(By.ID, "token"))
        assert driver.current_url == base + "/login?next=%2Fdashboard%2Fstudy%2Fnsga"
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.current_url == base + "/dashboard/study/nsga")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        assert cookies["nas_dashboard"]["httpOnly"] is True
        assert cookies["nas_dashboard"]["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie") == ""  # no script reads it

        # ---- the study page: one Pareto point per completed trial, and the other charts ---
        done = _completed(url, "nsga")
        data = wait.until(lambda d: d.execute_script(PARETO_JS))
        assert sorted(n for trace in data for n in trace) == done
        count = "return document.querySelectorAll('#pareto-graph .scatterlayer path.point').length"
        wait.until(lambda d: d.execute_script(count) == len(done))
        drawn = (
            "return ['anytime-graph', 'latency-graph', 'importance-graph'].map(id => {"
            "const g = document.querySelector('#' + id + ' .js-plotly-plot');"
            "return g && g.data && g.data.length && g.layout.meta !== 'loading'; })"
            ".every(Boolean);"
        )
        wait.until(lambda d: d.execute_script(drawn))
        driver.save_screenshot(str(tmp_path / "served-study.png"))

        # ---- a link within the app keeps to /dashboard/ -------------------------------------
        wait.until(lambda d: d.find_element(By.LINK_TEXT, "← all studies").click() or True)
        table = wait.until(lambda d: (t := d.execute_script(STUDIES_JS)) and len(t) == 2 and t)
        assert set(table) == {"nsga", "capped"}
        assert driver.current_url == base + "/dashboard/"
        hrefs = driver.execute_script(
            "return [...document.querySelectorAll('#studies-table a')].map(a => a.href);"
        )
        assert sorted(hrefs) == [base + "/dashboard/study/capped", base + "/dashboard/study/nsga"]

        # ---- nothing went wrong in the pages ------------------------------------------------
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        assert (tmp_path / "served-study.png").stat().st_size > 10_000
        chrome.keep(tmp_path / "served-study.png")
    finally:
        driver.quit()
