"""Headless Chromium driven by selenium: open a page, check its images and console, screenshot it.

Chromium and chromedriver are the Debian packages (``scripts/ensure-chromium.sh``); the
driver is given by path so selenium never tries to download one.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> tuple[str | None, str | None]:
    """(browser, driver) paths, or None where missing."""
    browser = os.environ.get("CELLXAI_CHROMIUM") or next((shutil.which(n) for n in CHROMIUM if shutil.which(n)), None)
    driver = os.environ.get("CELLXAI_CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


@dataclass
class PageCheck:
    images: list[dict] = field(default_factory=list)  # {src, naturalWidth, complete} per <img>
    console: list[dict] = field(default_factory=list)  # browser log entries
    title: str = ""
    height: int = 0

    @property
    def broken_images(self) -> list[dict]:
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] <= 0]

    @property
    def console_errors(self) -> list[dict]:
        return [e for e in self.console if e.get("level") in ("SEVERE", "ERROR")]


@contextlib.contextmanager
def chromium() -> Iterator["object"]:
    """A selenium Chrome driver on headless Chromium with a fresh profile, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_chromium()
    if browser is None or driver_path is None:
        raise RuntimeError("chromium / chromedriver not found")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try to download a browser or driver
    profile = tempfile.mkdtemp(prefix="cellxai-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def check_page(driver, url: str) -> PageCheck:  # noqa: ANN001
    """Load ``url`` and wait until every image decoded; report images and console messages."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )
    images = driver.execute_script(
        "return Array.from(document.images).map(i => ({src: i.src.slice(0, 80), naturalWidth: i.naturalWidth, complete: i.complete}))"
    )
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    return PageCheck(images=images, console=driver.get_log("browser"), title=driver.title, height=height)


def screenshot(driver, path: Path, full_page: bool = True, max_height: int = 16000) -> Path:  # noqa: ANN001
    """A PNG of the page (the whole page with ``full_page``, capped at ``max_height`` px)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not full_page:
        driver.save_screenshot(str(path))
        return path
    width = int(driver.execute_script("return document.documentElement.scrollWidth"))
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), max_height)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def split_png(path: Path, height: int = 1800) -> list[Path]:
    """Cut a tall screenshot into pieces a person (or an image viewer) can look at."""
    import cv2

    img = cv2.imread(str(path))
    parts = []
    for i in range(math.ceil(img.shape[0] / height)):
        part = path.with_name(f"{path.stem}-{i + 1}.png")
        cv2.imwrite(str(part), img[i * height:(i + 1) * height])
        parts.append(part)
    return parts
