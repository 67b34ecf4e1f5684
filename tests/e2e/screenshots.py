"""Write a PNG of each sample's migrate report into ``docs/screenshots/`` (``make screenshots``).

Each sample that validates is migrated into a throwaway embedded sandbox with the real CLI, and its
``report.html`` is photographed in headless Chromium at 1000 px wide, cropped to the first screens (what
a reader sees before scrolling, plus a little): small enough to commit, enough to review the page.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from etl.cli import main as cli
from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path
from tests.e2e.test_report_schemas import EXPORTS, REFUSED, SAMPLES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1000, 1250


def _migrate(source: Path, work: Path) -> Path:
    """The sample's migrate report dir (embedded sandbox, the --no-verify-less default run)."""
    for name in ("BME_API_KEY", "BME_API_KEY_FILE", "BME_BASE_URL", "BME_STATE_DIR"):
        os.environ.pop(name, None)
    out = work / source.name
    try:
        cli(["migrate", str(source), "--report-dir", str(out), "--state-dir", str(out / ".state")])
    except SystemExit as done:
        if done.code not in (0, None):
            raise RuntimeError(f"migrate {source.name} exited {done.code}") from None
    return out / "report.html"


def main() -> int:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        print("no chromium binary: apt-get install chromium", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_FLAGS))
        for name in (n for n in EXPORTS if n not in REFUSED):
            page_path = _migrate(SAMPLES / name, Path(tmp))
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(page_path.as_uri())
            height = min(HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
            target = OUT / f"{name.replace('.', '_')}.png"
            page.screenshot(path=str(target), clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
            page.close()
            print(target.relative_to(ROOT), file=sys.stderr)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
