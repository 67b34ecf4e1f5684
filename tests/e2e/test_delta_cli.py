"""The cut-over delta through the CLI: a newer export, the same state dir, the embedded sandbox.

``migrate`` over an export, someone edits a contact in Benchmark, then ``migrate`` over a newer export of the
same people: the rename is written, the edit is kept and reported as a conflict, the new person is created,
the person gone from the export is listed (still in the account); the read-back at the end is clean (it
expects the three-way merge), and report.json (schema-checked) and report.html carry "changes since last run".
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.test_report_schemas import _checked
from tests.load_support import account_contacts


def _csv(path: Path, rows: list[tuple[int, str, str]]) -> Path:
    lines = ["Email,First Name,Last Name"] + [f"person{i}@example.com,{a},{b}" for i, a, b in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_newer_export_writes_only_what_changed(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    people = [(i, f"First{i}", f"Last{i}") for i in range(10)]
    old = _csv(tmp_path / "old.csv", people)
    first = run(["migrate", str(old), "--state-dir", str(state), "--report-dir", str(tmp_path / "r1")])
    assert first.exit_code == 0, first.output
    assert _checked("report", tmp_path / "r1" / "report.json")["changes_since_last_run"] is None

    box = sandbox_factory(db=state / "sandbox.db")  # someone edits person3 in Benchmark meanwhile
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}, trust_env=False) as http:
        cid = account_contacts(box.app)["person3@example.com"].id
        doc = http.get(f"/api/contact/{cid}").json()
        label = {f["_id"]: f["label"] for f in http.get("/api/contact-structure").json()[0]["fields"]}
        last = next(fid for fid, name in label.items() if name == "Last Name")
        fields = [f for f in doc["fields"] if f["_id"] != last] + [{"_id": last, "value": "Edited"}]
        body = {
            k: doc[k] for k in ("key", "lists", "tags", "status", "__v", "contactStructureId") if k in doc
        }
        assert http.put(f"/api/contact/{cid}", json={**body, "fields": fields}).status_code == 200
    box.stop()

    newer = [(0, "Renamed", "Last0"), *people[1:2], *people[3:], (10, "First10", "Last10")]  # person2 gone
    new_csv = _csv(tmp_path / "new.csv", newer)
    dry = run(
        ["migrate", str(new_csv), "--dry-run", "--state-dir", str(state), "--report-dir", str(tmp_path / "d")]
    )
    assert dry.exit_code == 0, dry.output
    priced = _checked("report", tmp_path / "d" / "report.json")["dry_run"]
    assert priced["contacts"] == {
        "updated": 1,
        "created": 1,
        "unchanged": 8,
    }  # the conflict is kept: no write
    assert priced["requests"]["put"] == 1  # the ledger kept the __v: no GET
    second = run(
        [
            "migrate",
            str(_csv(tmp_path / "new.csv", newer)),
            "--state-dir",
            str(state),
            "--report-dir",
            str(tmp_path / "r2"),
        ]
    )
    assert second.exit_code == 0, second.output  # verify is clean: the kept edit is what it expects
    assert "verify:    clean" in second.output
    report = _checked("report", tmp_path / "r2" / "report.json")
    changes = report["changes_since_last_run"]
    assert changes["updated"] == {"count": 1, "keys": ["person0@example.com"]}
    assert changes["new"] == {"count": 1, "keys": ["person10@example.com"]}
    assert changes["gone_from_source"] == {"count": 1, "keys": ["person2@example.com"]}
    assert changes["unsubscribed"]["count"] == 0 and changes["on_conflict"] == "target"
    assert changes["conflicts"]["items"] == [
        {
            "key": "person3@example.com",
            "field": last,
            "source": "Last3",
            "benchmark": "Edited",
            "base": "Last3",
        }
    ]
    assert report["rows"]["updated"] == 1 and report["rows"]["created"] == 1
    page = (tmp_path / "r2" / "report.html").read_text(encoding="utf-8")
    assert "Changes since last run" in page and "Edited" in page

    box = sandbox_factory(db=state / "sandbox.db")
    have = account_contacts(box.app)
    assert (
        dict(have["person0@example.com"].fields).get(
            label and next(f for f, n in label.items() if n == "First Name")
        )
        == "Renamed"
    )
    assert dict(have["person3@example.com"].fields)[last] == "Edited"
    assert "person2@example.com" in have  # listed, never deleted
