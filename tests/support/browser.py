"""Debian's Chromium driven by Playwright, as the browser tests and the lab benchmarks use it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Debian's Chromium (``make system-deps``) and the options it runs with, headless.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-quic",
]


@contextmanager
def chromium_page(*, width: int, height: int, timeout_ms: float) -> Iterator[Any]:
    """One Chromium page (a Playwright ``Page``), closed with its context and browser at the end.

    Args:
        width: The viewport's width in px.
        height: The viewport's height in px.
        timeout_ms: The default timeout of every wait and action of the page.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.set_default_timeout(timeout_ms)
            try:
                yield context.new_page()
            finally:
                context.close()
        finally:
            browser.close()
