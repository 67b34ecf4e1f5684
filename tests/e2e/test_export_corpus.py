"""The export corpus: every platform's export, written from its own documentation, migrated into the
sandbox over HTTP. Each case folder (``tests/fixtures/exports/<case>/``) holds the export file(s) and an
``expected.toml`` saying, for every address, whether it must arrive Active, Inactive, or not at all.

What must hold for every case: the platform detected as expected; every opted-out person non-Active (or,
when the tool stops to ask about a consent column, nothing written at all — allowed only for ``generic``
or a case that says ``stop = true``); every opted-in person Active with the fields listed; every row with
exactly one outcome (the accounting identity).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.sandbox import client_for, default_structure
from tests.load_support import account_contacts

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").is_file()) if CORPUS.is_dir() else []
STATES = ("active", "inactive", "absent", "not_active")


def _files(case: Path) -> list[str]:
    return sorted(str(p) for p in case.rglob("*") if p.is_file() and p.name != "expected.toml")


def test_the_corpus_covers_at_least_twenty_platforms() -> None:
    platforms = {
        tomllib.loads((CORPUS / c / "expected.toml").read_text(encoding="utf-8"))["platform"] for c in CASES
    }
    assert len(CASES) >= 20 and len(platforms) >= 20, (CASES, platforms)


@pytest.mark.parametrize("case", CASES)
def test_export_migrates_as_its_documentation_says(
    case: str, run: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    folder = CORPUS / case
    expected = tomllib.loads((folder / "expected.toml").read_text(encoding="utf-8"))
    contacts: dict[str, str] = {k.lower(): v for k, v in expected["contacts"].items()}
    assert contacts and set(contacts.values()) <= set(STATES), case
    box = sandbox_factory()
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    reports = tmp_path / "reports"
    args = [
        "migrate",
        *_files(folder),
        "--create-fields",
        "--create-lists",
        "--create-tags",
        "--state-dir",
        str(tmp_path / "state"),
        "--report-dir",
        str(reports),
        *expected.get("args", []),
    ]
    done = run(args, env)
    have = account_contacts(box.app)
    if done.exit_code == 2 and "consent is unclear" in done.err:
        assert expected["platform"] == "generic" or expected.get("stop"), done.err
        assert have == {} and sum(box.app.request_counts().values()) == 0  # stopped before any request
        return
    assert done.exit_code == 0, done.output
    assert not expected.get("stop"), "expected the run to stop and ask about a consent column"
    doc = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    if not any(a in ("--preset", "--mapping") for a in expected.get("args", [])):
        assert doc["platform"] == expected["platform"], doc.get("detection")
    t = doc["rows"]
    assert (
        sum(t[k] for k in ("created", "updated", "unchanged", "skipped", "failed", "rejected")) == t["read"]
    )
    assert t["failed"] == 0

    status = {k: (v.status if not isinstance(v, list) else "twice") for k, v in have.items()}
    wrong = {}
    for email, want in contacts.items():
        got = status.get(email)
        ok = {
            "active": got == "Active",
            "inactive": got == "Inactive",
            "absent": got is None,
            "not_active": got in (None, "Inactive"),
        }[want]
        if not ok:
            wrong[email] = (want, got)
    assert not wrong, wrong
    assert set(status) <= set(contacts), f"written but not in expected.toml: {set(status) - set(contacts)}"

    with client_for(box) as http:
        ids = {f["label"]: f["_id"] for f in default_structure(http)["fields"]}
    for email, fields in expected.get("fields", {}).items():
        stored = dict(have[email.lower()].fields)
        for label, value in fields.items():
            assert label in ids, f"{case}: no field {label!r} in the account ({sorted(ids)})"
            assert stored.get(ids[label]) == str(value), (email, label, stored.get(ids[label]), value)
