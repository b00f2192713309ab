"""Both report types in a real browser: every image loads, the console stays clean, a screenshot is saved.

Headless Chromium (Debian packages ``chromium`` and ``chromium-driver``; ``make test`` installs
them through ``scripts/ensure-chromium.sh``). The reports are served by a localhost
``http.server`` as a user's browser would fetch them. Set ``CELLXAI_SCREENSHOTS=1`` to also
keep the screenshots in ``benchmarks/out/`` (or ``CELLXAI_SCREENSHOTS=DIR``).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from browser import check_page, chromium, find_chromium, screenshot

ROOT = Path(__file__).resolve().parents[4]  # the repository (plugins/reports/cellxai-report/tests)


def _skip_without_chromium() -> None:
    browser, driver = find_chromium()
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        pytest.skip(f"{missing} not found: install the Debian packages chromium and chromium-driver (scripts/ensure-chromium.sh)")


@pytest.fixture(scope="module")
def served(cluster_run, classify_run, tmp_path_factory):
    """Both reports under one localhost HTTP server: {task: url}."""
    root = tmp_path_factory.mktemp("served")
    for task, run in (("cluster", cluster_run), ("classify", classify_run)):
        shutil.copy(run.path / "report.html", root / f"{task}.html")
    (root / "control.html").write_text(CONTROL)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {task: f"http://127.0.0.1:{server.server_port}/{task}.html" for task in ("cluster", "classify")}
    finally:
        server.shutdown()
        server.server_close()


CONTROL = """<!doctype html><html><head><link rel="icon" href="data:,"><title>control</title></head>
<body><img src="missing.png" alt="broken on purpose"><script>console.error("control error")</script></body></html>"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_reports_render_in_chromium(served, tmp_path):
    _skip_without_chromium()
    keep = os.environ.get("CELLXAI_SCREENSHOTS")
    keep_dir = None if not keep else (ROOT / "benchmarks" / "out" if keep in ("1", "true", "yes") else Path(keep))
    with chromium() as driver:
        for task, url in served.items():
            page = check_page(driver, url)
            assert page.title.startswith("cellxai report"), page.title
            assert len(page.images) >= (5 if task == "cluster" else 3), f"{task}: only {len(page.images)} images"
            assert not page.broken_images, f"{task}: images that did not load: {page.broken_images}"
            assert not page.console_errors, f"{task}: console errors: {page.console_errors}"
            shot = screenshot(driver, tmp_path / f"report-{task}.png")
            assert shot.stat().st_size > 10_000
            if keep_dir is not None:
                keep_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, keep_dir / shot.name)
        control = check_page(driver, served["cluster"].replace("cluster.html", "control.html"))
        assert len(control.broken_images) == 1, "the checker must see a broken image"
        assert any("control error" in e["message"] for e in control.console_errors), "the checker must see console errors"
