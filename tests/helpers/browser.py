"""A real browser for the review page: headless Chromium renders a file, screenshots it and reports console messages,
or, driven by Playwright, clicks and downloads as a reader does."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: a page that needs the network shows it
    "--enable-logging=stderr",
    "--v=0",
)


def chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def render(browser: str, page: Path, screenshot: Path, width: int = 1300, height: int = 1000) -> list[str]:
    """Screenshot ``page`` into ``screenshot``; return the page's console messages (Chromium logs them as CONSOLE)."""
    with tempfile.TemporaryDirectory(prefix="lss-chromium-") as profile:
        result = subprocess.run(
            [
                browser,
                *HEADLESS_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={screenshot}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert screenshot.is_file(), f"{browser} wrote no screenshot (exit {result.returncode}):\n{result.stderr[-3000:]}"
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def page_text(browser: str, url: str, wait_ms: int = 20000) -> str:
    """The visible text of ``url`` once its scripts have run for ``wait_ms`` of virtual time (a single-page app)."""
    import html
    import re

    with tempfile.TemporaryDirectory(prefix="lss-chromium-") as profile:
        result = subprocess.run(
            [
                browser,
                *(flag for flag in HEADLESS_FLAGS if not flag.startswith("--host-resolver-rules")),
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # a local server, and nothing else
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={wait_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", result.stdout, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


@contextmanager
def driven_page(browser: str) -> Iterator[tuple[Any, list[str]]]:
    """A Playwright page in ``browser`` (the system Chromium: Playwright downloads none) with a fresh profile, and the
    list its console errors and uncaught exceptions are appended to."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="lss-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=browser,
            headless=True,
            args=list(HEADLESS_FLAGS),
            accept_downloads=True,
            viewport={"width": 1300, "height": 1000},
        )
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page, errors
        finally:
            context.close()
