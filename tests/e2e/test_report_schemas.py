"""report.json and verify.json are an interface: real reports must match the published JSON Schemas.

Every sample export goes through the real CLI (``validate``, ``migrate`` into the embedded sandbox,
``verify``) with real files on disk, and each document it writes is validated against
``docs/schema/report.schema.json`` / ``verify.schema.json`` with the ``jsonschema`` reference
implementation. The other states a report can be in (dry run, paused, stopped, a chosen preset, field
problems, a verify that found mismatches) are produced the same way. A key renamed, dropped or retyped in
the code fails here until the schema and docs/reports.md say so.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from etl.sandbox.knobs import Knobs

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SCHEMAS = ROOT / "docs" / "schema"
NOT_EXPORTS = {"README.md", "generate.py"}
# Samples that are refused on purpose (samples/README.md): one line, exit 2, no report.
REFUSED = {"binary.bin", "empty.csv", "missing_email_column.csv"}
EXPORTS = sorted(p.name for p in SAMPLES.iterdir() if p.is_file() and p.name not in NOT_EXPORTS)


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(name: str, doc: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in _validator(name).iter_errors(doc)
    ]


def _checked(name: str, path: Path) -> dict[str, Any]:
    """The document at ``path``, asserted valid against its schema."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert _errors(name, doc) == [], path
    return doc


def test_every_sample_is_either_an_export_or_a_known_refusal() -> None:
    assert set(EXPORTS) >= REFUSED
    assert len(EXPORTS) - len(REFUSED) >= 10  # the parametrisation below really covers the samples


@pytest.mark.parametrize("name", [n for n in EXPORTS if n not in REFUSED])
def test_validate_migrate_and_verify_reports_match_the_schemas(run, tmp_path: Path, name: str) -> None:
    source = str(SAMPLES / name)
    state = ["--state-dir", str(tmp_path / "state")]

    checked = run(["validate", source, "--report-dir", str(tmp_path / "v"), *state])
    assert checked.exit_code == 0, checked.output
    doc = _checked("report", tmp_path / "v" / "report.json")
    assert "run_id" not in doc and "state" not in doc  # a validate report has no run

    migrated = run(["migrate", source, "--report-dir", str(tmp_path / "m"), *state])
    assert migrated.exit_code == 0, migrated.output
    assert "embedded local sandbox" in migrated.output
    doc = _checked("report", tmp_path / "m" / "report.json")
    assert doc["state"] == "complete" and "state" not in doc["load"]  # one state, at the top
    assert doc["contacts"]["created"] <= doc["rows"]["created"]  # a merged duplicate row is no contact
    first = _checked("verify", tmp_path / "m" / "verify.json")  # migrate's own read-back
    assert first["clean"] and first["run_id"] == doc["run_id"]

    again = run(["verify", "--report-dir", str(tmp_path / "m"), *state])
    assert again.exit_code == 0, again.output
    assert _checked("verify", tmp_path / "m" / "verify.json")["checked"] == first["checked"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_samples_write_no_report(run, tmp_path: Path, name: str) -> None:
    refused = run(["validate", str(SAMPLES / name), "--report-dir", str(tmp_path / "v")])
    assert refused.exit_code == 2 and refused.err.startswith("error: "), refused.output
    assert not (tmp_path / "v" / "report.json").exists()


def test_a_chosen_preset_and_field_problems_match_the_schema(run, tmp_path: Path) -> None:
    source = tmp_path / "hubspot.csv"
    text = (SAMPLES / "hubspot.csv").read_text(encoding="utf-8")
    source.write_text(text.replace('"2022-01-15 10:00"', '"not a date"', 1), encoding="utf-8")
    done = run(["validate", str(source), "--preset", "hubspot", "--report-dir", str(tmp_path / "v")])
    assert done.exit_code == 0, done.output
    doc = _checked("report", tmp_path / "v" / "report.json")
    assert doc["detection"] is None  # not detected: chosen
    assert (
        doc["field_problems"]["cells"] == 1
        and doc["field_problems"]["samples"][0]["reason_code"] == "bad_date"
    )


def test_dry_run_paused_and_stopped_reports_match_the_schema(run, tmp_path: Path) -> None:
    source = str(SAMPLES / "mailchimp_audience.zip")
    state = ["--state-dir", str(tmp_path / "state")]

    dry = run(["migrate", source, "--dry-run", "--report-dir", str(tmp_path / "dry"), *state])
    assert dry.exit_code == 0, dry.output
    doc = _checked("report", tmp_path / "dry" / "report.json")
    assert doc["state"] == "dry_run" and doc["dry_run"]["total_requests"] > 0

    paused = run(["migrate", source, "--max-requests", "3", "--report-dir", str(tmp_path / "p"), *state])
    assert paused.exit_code == 75, paused.output
    doc = _checked("report", tmp_path / "p" / "report.json")
    assert doc["state"] == "paused" and doc["load"]["resume_command"]

    mostly = tmp_path / "mostly_rejected.csv"
    mostly.write_text("email\nbad1\nbad2\nbad3\nok@example.com\n", encoding="utf-8")
    stopped = run(["migrate", str(mostly), "--report-dir", str(tmp_path / "s"), *state])
    assert stopped.exit_code == 2, stopped.output
    doc = _checked("report", tmp_path / "s" / "report.json")
    assert doc["state"] == "stopped" and "most rows were rejected" in doc["load"]["stop_reason"]

    preview = run(["migrate", str(mostly), "--dry-run", "--report-dir", str(tmp_path / "ps"), *state])
    assert preview.exit_code == 0, preview.output
    doc = _checked("report", tmp_path / "ps" / "report.json")
    assert doc["state"] == "dry_run" and doc["load"]["would_stop"]


def test_a_verify_with_mismatches_matches_the_schema(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n", encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    flags = ["--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r")]
    done = run(
        [
            "migrate",
            str(SAMPLES / "hubspot.csv"),
            "--list",
            "Imported",
            "--create-lists",
            "--create-fields",
            *flags,
        ],
        env,
    )
    assert done.exit_code == 0, done.output

    store = box.app.store
    with store.lock:  # someone edits a migrated contact in the account
        row = next(r for r in store.contacts_by_ids(store.all_contact_ids()) if r.fields)
        fields = [(f, v + " (edited)") for f, v in row.fields]
        store.replace_contact(row, dataclasses.replace(row, fields=fields))
    bad = run(["verify", *flags], env)
    assert bad.exit_code == 5, bad.output
    doc = _checked("verify", tmp_path / "r" / "verify.json")
    assert not doc["clean"] and doc["mismatches"] and doc["mismatches_by_kind"]["field"] >= 1
    assert doc["lists"] and doc["lists"][0]["name"] == "Imported"


def _real(name: str, tmp_path: Path, run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    out = tmp_path / name
    done = run(
        ["migrate", str(SAMPLES / "klaviyo.csv"), "--report-dir", str(out), "--state-dir", str(out / "s")]
    )
    assert done.exit_code == 0, done.output
    doc: dict[str, Any] = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize("name", ["report", "verify"])
def test_the_schemas_fail_on_a_renamed_dropped_or_retyped_top_level_key(
    run, tmp_path: Path, name: str
) -> None:
    doc = _real(name, tmp_path, run)
    assert _errors(name, doc) == []
    for key in list(doc):
        renamed = {(k + "s" if k == key else k): v for k, v in doc.items()}
        assert _errors(name, renamed), f"{name}: renaming {key!r} went unnoticed"
        dropped = {k: v for k, v in doc.items() if k != key}
        assert _errors(name, dropped), f"{name}: dropping {key!r} went unnoticed"
        retyped = copy.deepcopy(doc)
        retyped[key] = [doc[key]]  # no top-level key is an array of itself
        assert _errors(name, retyped), f"{name}: {key!r} as a list went unnoticed"
