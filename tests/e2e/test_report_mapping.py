"""The reports carry the mapping section: every source column, where it goes, and unfilled account fields."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from etl.sandbox.knobs import Knobs

HEADER = "Email,First Name,<b>Odd</b>,Plan"


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(f"{HEADER}\nann@example.com,Ann,x,gold\nbob@example.com,Bob,y,silver\n", encoding="utf-8")
    return path


def test_validate_report_maps_every_column_offline(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r"
    done = run(["validate", str(_export(tmp_path)), "--report-dir", str(out)])
    assert done.exit_code == 0, done.output
    doc = json.loads((out / "report.json").read_text())
    columns = {c["source"]: c for c in doc["mapping"]["columns"]}
    assert list(columns) == HEADER.split(",")  # every source column exactly once, in order
    assert columns["Email"]["kind"] == "email"
    assert columns["First Name"]["target"] == "First Name" and columns["Plan"]["kind"] == "field"
    page = (out / "report.html").read_text()
    assert "Column mapping" in page and "&lt;b&gt;Odd&lt;/b&gt;" in page and "<b>Odd</b>" not in page


def test_migration_report_names_the_resolved_ids(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = ["migrate", str(_export(tmp_path)), "--create-fields", "--no-verify"]
    out, state = tmp_path / "r", tmp_path / "state"
    done = run([*args, "--report-dir", str(out), "--state-dir", str(state)], env)
    assert done.exit_code == 0, done.output
    doc = json.loads((out / "report.json").read_text())
    plan = {c["source"]: c for c in doc["mapping"]["columns"]}
    assert plan["Plan"]["target_id"] and plan["First Name"]["target_id"]
    assert doc["mapping"]["structure"]["_id"]
    # Last Name exists in the default structure and no column fills it
    assert "Last Name" in {u["label"] for u in doc["mapping"]["unfilled_fields"]}
    # a re-run (already complete) reports the same section from the ledger, without re-resolving
    again = run([*args, "--report-dir", str(out), "--state-dir", str(state)], env)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "report.json").read_text())["mapping"] == doc["mapping"]
    structures = httpx.get(f"{box.url}/api/contact-structure", headers={"X-API-Key": box.api_key}).json()
    field_ids = {f["_id"] for f in structures[0]["fields"]}
    assert {plan["Plan"]["target_id"], plan["First Name"]["target_id"]} <= field_ids
