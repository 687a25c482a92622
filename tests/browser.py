"""Headless Debian Chromium driven by Selenium: the browser test and the dashboard benchmark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# As root, Chromium needs --no-sandbox; the rest keep it off the network and quiet.
FLAGS = (
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1400,1700",
)


# Screenshots are copied here so they outlive pytest's temporary folders (CI keeps the folder).
ARTIFACTS = Path(
    os.environ.get("NAS_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts")
)


def keep(path: Path) -> Path:
    """Copy a screenshot (or any file a test wants a person to look at) to ``ARTIFACTS``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(path, ARTIFACTS / path.name))


def full_page_screenshot(driver: Any, path: Path) -> Path:
    """Save the whole page, not only the window, as PNG (Chromium's DevTools protocol)."""
    import base64

    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def chromium(profile: Path, *, console_log: bool = False) -> Any:
    """A Selenium driver for a fresh headless Chromium with its profile in ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    if console_log:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
