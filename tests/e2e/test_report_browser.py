"""report.html in a real browser: every sample's validate and migrate pages, and a hostile export's.

Headless Chromium (``tests/e2e/browser.py``) opens each page at phone width (375 px) and checks what only
a browser can: no console error, no horizontal overflow, the key facts (state, row and contact counts)
are visible text, and a cell that tries to run script did not. The reports are written by the real CLI
(the embedded sandbox over loopback HTTP), one browser serves the whole module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path, required
from tests.e2e.test_report_schemas import EXPORTS, REFUSED, SAMPLES

PHONE = {"width": 375, "height": 800}
A4 = {"width": 718, "height": 1047}  # 210 × 297 mm less the page's 14 mm margins, at 96 px per inch
LONG = "X" * 3000  # one unbroken value: must wrap, not widen the page
HOSTILE_HEADER = 'Email,First Name,<img src=x onerror="window.__pwned=3">,Notes,status\n'
HOSTILE_ROWS = [
    'ada@example.com,<script>window.__pwned=1</script>,<img src=x onerror="window.__pwned=2">,'
    + LONG
    + ",subscribed",
    "ليلى@example.com,ליאור שלום,مرحبا بالعالم,עברית ועוד,subscribed",
    '"<script>window.__pwned=4</script>@x",Bad,1,2,subscribed',
    "bob@example.com,Bob,<b>bold</b>,ok,unsubscribed",
    "BOB@example.com,Bobby,,,subscribed",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra missing
        if required():
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if path is None:
        if required():
            pytest.fail("BME_REQUIRE_BROWSER=1 but no chromium binary was found")
        pytest.skip("no chromium binary (apt-get install chromium); BME_REQUIRE_BROWSER=1 makes this fail")
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_FLAGS))
        yield chrome
        chrome.close()


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str]]:
    """The page at phone width, and the console errors and page errors it raised while loading."""
    page = browser.new_page(viewport=PHONE, java_script_enabled=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # no network: a request for anything but the page itself is an asset the page should not have
    page.route("**/*", lambda r: r.continue_() if r.request.url == page_path.as_uri() else r.abort())
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def _check(browser: Any, page_path: Path) -> str:
    """Assert the page's browser-only properties; return its visible text."""
    page, errors = _open(browser, page_path)
    try:
        assert errors == [], errors
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{page_path}: {width}px wide at {PHONE['width']}px"
        assert page.evaluate("window.__pwned === undefined"), "an injected script ran"
        assert page.locator("script").count() == 0
        page.set_viewport_size(A4)  # printed: @media print on an A4 page's width, nothing cut off
        page.emulate_media(media="print")
        printed = page.evaluate("document.documentElement.scrollWidth")
        assert printed <= A4["width"], f"{page_path}: {printed}px wide printed on A4"
        page.emulate_media(media="screen")
        page.set_viewport_size(PHONE)
        return str(page.inner_text("body"))
    finally:
        page.close()


def _facts(text: str, doc: dict[str, Any]) -> None:
    """The key facts a reader must see: the state, rows → contacts, the rejected count."""
    t = doc["rows"]
    words = {
        None: "nothing was sent to Benchmark",
        "complete": "Migration complete",
        "paused": "Migration paused",
        "dry_run": "Dry run",
    }
    assert words[doc.get("state")] in text
    rows = f"{t['read']:,} row" + ("" if t["read"] == 1 else "s")
    contacts = f"{t['valid']:,} contact" + ("" if t["valid"] == 1 else "s")
    assert f"{rows} → {contacts}" in text
    if doc.get("contacts"):
        assert f"{doc['contacts']['created']:,} created" in text or not doc["contacts"]["created"]


@pytest.mark.parametrize("name", [n for n in EXPORTS if n not in REFUSED])
def test_each_samples_pages_read_well_at_phone_width(run, browser, tmp_path: Path, name: str) -> None:
    source, state = str(SAMPLES / name), ["--state-dir", str(tmp_path / "state")]
    for command, out in (("validate", "v"), ("migrate", "m")):
        done = run([command, source, "--report-dir", str(tmp_path / out), *state])
        assert done.exit_code == 0, done.output
        doc = json.loads((tmp_path / out / "report.json").read_text(encoding="utf-8"))
        text = _check(browser, tmp_path / out / "report.html")
        _facts(text, doc)
    assert "Everything matches" in text  # migrate's read-back is on its page
    if name == "mailchimp_audience.zip":  # 8 rows: 6 contacts created, 1 duplicate row merged, 1 rejected
        assert "8 rows → 6 contacts" in text and "Contacts: 6 created" in text
        assert "6 created\n" in text and "1 merged into another row" in text and "7 created" not in text


def test_a_hostile_export_cannot_script_or_widen_the_page(run, browser, tmp_path: Path) -> None:
    src = tmp_path / "hostile.csv"
    src.write_text(HOSTILE_HEADER + "\n".join(HOSTILE_ROWS) + "\n", encoding="utf-8")
    state = ["--state-dir", str(tmp_path / "state")]
    for command, out in (("validate", "v"), ("migrate", "m")):
        done = run([command, str(src), "--report-dir", str(tmp_path / out), *state])
        assert done.exit_code == 0, done.output
        page = (tmp_path / out / "report.html").read_text(encoding="utf-8")
        assert "<script>window" not in page and "<img src=x" not in page
        doc = json.loads((tmp_path / out / "report.json").read_text(encoding="utf-8"))
        text = _check(browser, tmp_path / out / "report.html")
        _facts(text, doc)
        # the hostile cells are shown as text, not run or dropped
        assert "<script>window.__pwned=4</script>@x" in text  # the rejected address, as text
        assert "ליאור שלום" in text and "<b>bold</b>" in text  # the mapping's samples: RTL, markup as text


def test_a_paused_and_resumed_run_shows_its_timeline(run, browser, tmp_path: Path) -> None:
    source, state = str(SAMPLES / "hubspot.csv"), ["--state-dir", str(tmp_path / "state")]
    out = ["--report-dir", str(tmp_path / "m")]
    paused = run(["migrate", source, "--max-requests", "3", *out, *state])
    assert paused.exit_code == 75, paused.output
    text = _check(browser, tmp_path / "m" / "report.html")
    assert "Migration paused" in text and "To continue, run:" in text
    resumed = run(["migrate", source, *out, *state])
    assert resumed.exit_code == 0, resumed.output
    doc = json.loads((tmp_path / "m" / "report.json").read_text(encoding="utf-8"))
    assert [i["outcome"] for i in doc["invocations"]] == ["paused", "complete"]
    text = _check(browser, tmp_path / "m" / "report.html")
    assert "Timeline" in text and "paused" in text and "Migration complete" in text


UNDECIDED_EXPORT = "Email,First Name,Newsletter\n" + "".join(
    f"{name.lower()}@example.com,{name},{word}\n"
    for name, word in (("Ada", "ja"), ("Bob", "nein"), ("Cy", "vielleicht"), ("Di", "vielleicht"))
)


def test_undecided_consent_is_its_own_segment_not_subscribed(run, browser, tmp_path: Path) -> None:
    """Validate's page and a stopped migrate's: the consent bar has an "undecided" segment (its own
    colour and a text label), no "subscribed" count includes the undecided contacts, the stop's page
    lists the question, and nothing overflows at 375 px."""
    src = tmp_path / "export.csv"
    src.write_text(UNDECIDED_EXPORT, encoding="utf-8")
    state = ["--state-dir", str(tmp_path / "state")]
    for command, out, code in (("validate", "v", 0), ("migrate", "m", 2)):
        done = run([command, str(src), "--report-dir", str(tmp_path / out), *state])
        assert done.exit_code == code, done.output
        text = _check(browser, tmp_path / out / "report.html")
        assert "3 undecided — migrate will stop until the consent column is settled" in text
        assert "1 subscribed\n" in text and "4 subscribed" not in text and "3 subscribed" not in text
        assert "3 contacts are undecided" in text
        page, errors = _open(browser, tmp_path / out / "report.html")
        try:
            bar = page.locator('svg[aria-label="contacts by consent status"] rect')
            fills = [bar.nth(i).get_attribute("fill") for i in range(bar.count())]
            titles = [bar.nth(i).text_content() for i in range(bar.count())]
            assert len(fills) == 2 and len(set(fills)) == 2, fills  # undecided and subscribed, apart
            assert titles[0].startswith("undecided") and titles[1] == "subscribed: 1", titles
        finally:
            page.close()
    assert "Stopped before writing anything" in text and '--ignore-column "Newsletter"' in text
    assert "4 not written: the run stopped before writing" in text and "No row was read" not in text
