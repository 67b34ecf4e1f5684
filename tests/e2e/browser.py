"""A headless Chromium for the report tests and the screenshot script: Debian's binary, driven by Playwright.

Never a downloaded browser (no ``playwright install``): the system's ``chromium`` package, started with
flags that keep it off the network and quiet. ``BME_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns a
missing browser from a skip into a failure, so CI cannot pass without having looked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """The system Chromium, or ``None``; ``BME_CHROMIUM`` names another binary."""
    named = os.environ.get("BME_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def required() -> bool:
    return os.environ.get("BME_REQUIRE_BROWSER") == "1"
