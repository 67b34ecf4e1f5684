"""``--json``: stdout holds one JSON document — the file the command wrote — and nothing else.

Scripts pipe ``bme-migrate migrate … --json`` into ``jq`` or ``python -m json.tool``: one stray human line
on stdout (the sandbox notice, the summary, a progress line) breaks them. Every sample goes through the
real CLI (embedded sandbox over loopback HTTP, real files), and what stdout holds must parse as one
document, equal the report file on disk and match the published JSON Schema; the human text must still
be there, on stderr. The other JSON outputs (status, mappings) carry ``schema`` and ``version`` and match
their own schemas.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SCHEMAS = ROOT / "docs" / "schema"
REFUSED = {"binary.bin", "empty.csv", "missing_email_column.csv"}  # samples/README.md: exit 2, no report
EXPORTS = sorted(
    p.name for p in SAMPLES.iterdir() if p.is_file() and p.name not in {"README.md", "generate.py", *REFUSED}
)


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _document(out: str, schema: str, written: Path | None = None) -> dict[str, Any]:
    """stdout as the one JSON document (``json.loads`` refuses anything before or after it), valid against
    ``schema`` and, when ``written`` is given, equal to that file."""
    doc: dict[str, Any] = json.loads(out)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(schema).iter_errors(doc)
    ]
    assert errors == [], errors
    if written is not None:
        assert doc == json.loads(written.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize("name", EXPORTS)
def test_validate_migrate_and_verify_json_is_the_report_and_nothing_else(
    run, tmp_path: Path, name: str
) -> None:
    source = str(SAMPLES / name)
    state = ["--state-dir", str(tmp_path / "state")]

    checked = run(["validate", source, "--report-dir", str(tmp_path / "v"), "--json", *state])
    assert checked.exit_code == 0, checked.err
    _document(checked.out, "report", tmp_path / "v" / "report.json")
    assert "report: " in checked.err  # the human summary is still printed, on stderr

    migrated = run(["migrate", source, "--report-dir", str(tmp_path / "m"), "--json", *state])
    assert migrated.exit_code == 0, migrated.err
    doc = _document(migrated.out, "report", tmp_path / "m" / "report.json")
    assert doc["run_id"] in migrated.err and "state:     complete" in migrated.err
    assert "embedded local sandbox" in migrated.err  # the notice too

    again = run(["verify", "--report-dir", str(tmp_path / "m"), "--json", *state])
    assert again.exit_code == 0, again.err
    assert _document(again.out, "verify", tmp_path / "m" / "verify.json")["clean"] is True
    assert "verified: clean" in again.err


def test_exit_codes_are_unchanged_and_stdout_still_holds_the_document(run, tmp_path: Path) -> None:
    """A paused run (75), a run stopped before writing (2) and --fail-on-rejects (3) still print the
    document their report file holds."""
    state = ["--state-dir", str(tmp_path / "state")]
    source = str(SAMPLES / "mailchimp_audience.zip")
    paused = run(
        ["migrate", source, "--max-requests", "3", "--report-dir", str(tmp_path / "p"), "--json", *state]
    )
    assert paused.exit_code == 75, paused.err
    doc = _document(paused.out, "report", tmp_path / "p" / "report.json")
    assert doc["run_id"] in paused.err and "to resume, run:" in paused.err

    mostly = tmp_path / "mostly_rejected.csv"
    mostly.write_text("email\nbad1\nbad2\nbad3\nok@example.com\n", encoding="utf-8")
    stopped = run(["migrate", str(mostly), "--report-dir", str(tmp_path / "s"), "--json", *state])
    assert stopped.exit_code == 2 and stopped.err.rstrip().splitlines()[-1].startswith("error: "), stopped.err
    _document(stopped.out, "report", tmp_path / "s" / "report.json")

    dry = run(["migrate", source, "--dry-run", "--report-dir", str(tmp_path / "d"), "--json", *state])
    assert dry.exit_code == 0, dry.err
    _document(dry.out, "report", tmp_path / "d" / "report.json")

    blocked = run(
        [
            "validate",
            str(SAMPLES / "hubspot.csv"),
            "--fail-on-rejects",
            "--report-dir",
            str(tmp_path / "b"),
            "--json",
        ]
    )
    assert blocked.exit_code == 3, blocked.err
    _document(blocked.out, "report", tmp_path / "b" / "report.json")


def test_status_detect_and_mappings_json_carry_schema_and_version(run, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    empty = _document(run(["status", "--json", *state]).out, "status")
    assert (empty["schema"], empty["version"], empty["runs"]) == ("bme-migrate/status", 1, [])
    assert (
        run(["migrate", str(SAMPLES / "klaviyo.csv"), "--report-dir", str(tmp_path / "r"), *state]).exit_code
        == 0
    )
    runs = _document(run(["status", "--json", *state]).out, "status")["runs"]
    assert [r["state"] for r in runs] == ["complete"] and runs[0]["rows"]["created"] == 3

    for sample, platform in [("hubspot.csv", "hubspot"), ("contacts.json", "generic")]:
        found = run(["mappings", "detect", str(SAMPLES / sample), "--json"])
        assert found.exit_code == 0, found.err
        doc = _document(found.out, "detect")
        assert doc["schema"] == "bme-migrate/detect" and doc["platform"] == platform

    listed = _document(run(["mappings", "list", "--json"]).out, "presets")
    assert "mailchimp" in [p["name"] for p in listed["presets"]]

    planned = run(
        ["mappings", "plan", str(SAMPLES / "klaviyo.csv"), "--json", *state]
    )  # its fields exist now
    assert planned.exit_code == 0, planned.err
    doc = _document(planned.out, "mapping-plan")
    assert doc["schema"] == "bme-migrate/mapping-plan" and doc["preset"] == "klaviyo"
    offline = run(["mappings", "plan", str(SAMPLES / "hubspot.csv"), "--offline", "--json"])
    assert offline.exit_code == 0, offline.err
    _document(offline.out, "mapping-plan")


@pytest.mark.parametrize("name", ["status", "detect", "presets", "mapping-plan", "undo"])
def test_the_schemas_refuse_a_document_without_schema_or_version(name: str) -> None:
    for key in ("schema", "version"):
        assert not _validator(name).is_valid(
            {k: v for k, v in {"schema": f"bme-migrate/{name}", "version": 1}.items() if k != key}
        )


def test_undo_json_is_undo_json_and_nothing_else(run, tmp_path: Path) -> None:
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    assert run(["migrate", str(SAMPLES / "hubspot.csv"), *flags]).exit_code == 0
    dry = run(["undo", "latest", "--json", *flags])
    assert dry.exit_code == 0, dry.err
    doc = _document(dry.out, "undo", tmp_path / "r" / "undo.json")
    assert (doc["schema"], doc["applied"], doc["counts"]["delete"]) == ("bme-migrate/undo", False, 3)
    assert "dry run: nothing was written" in dry.err
    done = run(["undo", "latest", "--yes", "--json", *flags])
    assert done.exit_code == 0, done.err
    doc = _document(done.out, "undo", tmp_path / "r" / "undo.json")
    assert [d["result"] for d in doc["delete"]] == ["deleted"] * 3
