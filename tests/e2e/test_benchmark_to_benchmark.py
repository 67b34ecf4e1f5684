"""Moving contacts between two Benchmark accounts: account A's own contact export, fetched over HTTP
from the sandbox (``POST /api/contact/export``, in both column readings it serves), migrated into
account B. The export's columns are undocumented (docs/reference/benchmark-api.md §8.1), so this checks
the `benchmark_export` preset against what the emulator of that endpoint really writes, not a hand copy:
every person keeps their primary status — an Inactive one (unsubscribed, bounced, complained) never
arrives Active — and, in the label reading, their fields and list memberships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.sandbox.knobs import Knobs
from tests.fixtures.sandbox import client_for, default_structure
from tests.load_support import account_contacts

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "benchmark_export"


def _migrate(run: Any, box: Any, files: list[str], tmp: Path) -> dict[str, Any]:
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = ["migrate", *files, "--create-fields", "--create-lists", "--create-tags"]
    done = run([*args, "--state-dir", str(tmp / "state"), "--report-dir", str(tmp / "reports")], env)
    assert done.exit_code == 0, done.output
    doc: dict[str, Any] = json.loads((tmp / "reports" / "report.json").read_text(encoding="utf-8"))
    return doc


def _by_label(box: Any) -> dict[str, tuple[str, dict[str, str], set[str]]]:
    """key → (status, field values by label, list names) as account ``box`` holds them."""
    with client_for(box) as http:
        structure = default_structure(http)
        lists = http.get(f"/api/contact-structure/{structure['_id']}/lists/all").json()
    labels = {f["_id"]: f["label"] for f in structure["fields"]}
    names = {x["_id"]: x["name"] for x in (lists if isinstance(lists, list) else lists.get("records", []))}
    return {
        k: (
            c.status,
            {labels[i]: v for i, v in dict(c.fields).items() if v},
            {names.get(x, x) for x in c.lists},
        )
        for k, c in account_contacts(box.app).items()
    }


@pytest.mark.parametrize("columns", ["label", "id"])
def test_an_accounts_own_export_moves_into_another_account(
    columns: str, run: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    a = sandbox_factory(Knobs(export_columns=columns))
    _migrate(run, a, [str(CASE / "contacts.csv")], tmp_path / "a")
    with client_for(a) as http:
        answer = http.post("/api/contact/export", json={})
    assert answer.status_code == 200, answer.text
    export = tmp_path / "account-a.csv"
    export.write_bytes(answer.content)

    b = sandbox_factory()
    doc = _migrate(run, b, [str(export)], tmp_path / "b")
    assert doc["platform"] == "benchmark_export", doc.get("detection")
    assert doc["rows"]["rejected"] == 0 and doc["rows"]["failed"] == 0

    before, after = _by_label(a), _by_label(b)
    assert set(after) == set(before)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert before["jose.nunez@example.es"][0] == "Inactive" and before["ada.byron@example.com"][0] == "Active"
    if columns == "label":
        assert before["ada.byron@example.com"][1:] == (
            {
                "First Name": "Ada",
                "Last Name": "Byron",
                "Company": "Analytical Engines Ltd",
                "Birthday": "1815-12-10",
            },
            {"Newsletter", "Customers"},
        )
        assert {k: (v[1], v[2]) for k, v in after.items()} == {k: (v[1], v[2]) for k, v in before.items()}
