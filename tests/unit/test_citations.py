"""Every document the code, presets and tests cite is in the repository, and every cited section exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"docs/reference/([\w.-]+\.md)(?:'s [\w ]+)?(?: \(?§([\d.]+))?")


def _citations() -> list[tuple[Path, str, str]]:
    out = []
    for path in [
        *ROOT.glob("etl/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("mappings/*"),
        *ROOT.glob("tests/fixtures/exports/*/expected.toml"),
    ]:
        for name, section in CITED.findall(path.read_text(encoding="utf-8", errors="replace")):
            out.append((path, name, section))
    return out


def test_cited_documents_exist() -> None:
    found = _citations()
    assert len(found) > 20  # the sweep found the citations at all
    missing = sorted(
        {
            f"{p.relative_to(ROOT)} cites {n}"
            for p, n, _ in found
            if not (ROOT / "docs/reference" / n).exists()
        }
    )
    assert missing == []


def test_cited_sections_exist() -> None:
    headings: dict[str, set[str]] = {}
    for doc in (ROOT / "docs/reference").glob("*.md"):
        numbers = re.findall(r"^#+\s+(\d+(?:\.\d+)*)\.?\s", doc.read_text(encoding="utf-8"), re.MULTILINE)
        headings[doc.name] = set(numbers)
    bad = sorted(
        f"{p.relative_to(ROOT)}: {n} §{s}"
        for p, n, s in _citations()
        if s and n in headings and s.rstrip(".") not in headings[n]
    )
    assert bad == []
