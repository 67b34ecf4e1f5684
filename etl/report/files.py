"""Render a run's ``report.html`` again from the documents already in its report dir.

``verify`` reads a run back after its report was written (by ``migrate`` or later, alone): the page is
rendered anew from ``report.json`` and ``verify.json`` rather than patched, so it is the same page a
reader would get had both existed at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.atomic import write_text_atomically
from etl.report.page import render_page

REPORT_JSON, VERIFY_JSON, REPORT_HTML = "report.json", "verify.json", "report.html"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def run_verify_doc(out_dir: Path, run_id: str | None) -> dict[str, Any] | None:
    """``verify.json`` of ``out_dir`` when it is about ``run_id`` (a report dir may hold an older run's)."""
    doc = _load(out_dir / VERIFY_JSON)
    return doc if doc is not None and doc.get("run_id") == run_id else None


def rerender(out_dir: Path, *, verify_note: str | None = None) -> bool:
    """Write ``out_dir/report.html`` from its ``report.json`` and (same run) ``verify.json``;
    ``verify_note`` says why a complete run was not read back. ``False`` when there is no report."""
    doc = _load(out_dir / REPORT_JSON)
    if doc is None:
        return False
    verify = run_verify_doc(out_dir, doc.get("run_id"))
    write_text_atomically(out_dir / REPORT_HTML, render_page(doc, verify, verify_note=verify_note))
    return True
