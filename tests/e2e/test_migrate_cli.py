"""``bme-migrate migrate`` and ``status`` end to end: real files, real HTTP, the CLI's exit codes and words."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import httpx
import pytest

from etl.clock import FakeClock
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts

ROOT = Path(__file__).resolve().parents[2]
MAILCHIMP = str(ROOT / "samples" / "mailchimp_audience.zip")


def _csv(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "contacts.csv"
    lines = ["Email,First Name,Last Name"] + [f"Person{i}@Example.com,First{i},Last{i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_migrate_into_embedded_sandbox_then_rerun_resumes_the_same_run(run, tmp_path: Path) -> None:
    state, reports = tmp_path / "state", tmp_path / "reports"
    first = run(["migrate", MAILCHIMP, "--state-dir", str(state), "--report-dir", str(reports)])
    assert first.exit_code == 0, first.output
    assert "embedded local sandbox" in first.output
    doc = json.loads((reports / "report.json").read_text())
    assert doc["state"] == "complete" and doc["resume_after"] is None
    t = doc["rows"]
    assert t["created"] > 0 and t["pending"] == 0 and t["failed"] == 0
    settled = sum(t[k] for k in ("created", "updated", "unchanged", "skipped", "failed", "rejected"))
    assert settled == t["read"]  # every row has exactly one outcome
    assert doc["requests"]["total"] == sum(doc["requests"]["by_endpoint"].values())
    assert (reports / "report.html").read_text().count("Migration") >= 1 and (
        reports / "rejects.csv"
    ).exists()

    assert "state:     complete" in first.output and "verify:    clean" in first.output
    assert (reports / "verify.json").exists()  # migrate ended with the read-back
    rows = re.search(r"rows:      (\d+) read = created (\d+) ", first.output)
    assert rows and int(rows.group(1)) == t["read"] and int(rows.group(2)) == t["created"]

    again = run(["migrate", MAILCHIMP, "--state-dir", str(state), "--report-dir", str(reports)])
    assert again.exit_code == 0, again.output
    assert "already complete — nothing to send" in again.output
    assert f"requests:  0 this time, {doc['requests']['total']:,} in total" in again.output
    doc2 = json.loads((reports / "report.json").read_text())
    assert doc2["run_id"] == doc["run_id"] and doc2["requests"] == doc["requests"]  # nothing more sent

    status = run(["status", "--state-dir", str(state)])
    assert status.exit_code == 0 and doc["run_id"] in status.output and "complete" in status.output


def test_max_requests_pauses_with_exit_75_and_the_printed_command_resumes(run, tmp_path: Path) -> None:
    csv = _csv(tmp_path, 30)
    state = tmp_path / "state"
    args = ["migrate", str(csv), "--state-dir", str(state), "--report-dir", str(tmp_path / "r")]
    paused = run([*args, "--max-requests", "10"])
    assert paused.exit_code == 75, paused.output
    assert (
        "--max-requests 10 reached" in paused.output
        and "to resume, run: bme-migrate migrate" in paused.output
    )
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "paused" and doc["rows"]["pending"] > 0
    status = run(["status", "--state-dir", str(state)])
    assert "paused" in status.output and "resume with: bme-migrate migrate" in status.output
    done = run(args + ["--max-requests", "10"])  # same command: resumes the same run
    assert done.exit_code in (0, 75)
    final = run(args)
    assert final.exit_code == 0, final.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["created"] == 30 and doc["rows"]["pending"] == 0


@pytest.fixture
def remote(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(monthly_limit=25, period_end=clock.now() + 3 * 86400), clock=clock)
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n")
    return box, clock, {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}


def test_dry_run_writes_nothing_and_gives_the_exact_split(run, remote, tmp_path: Path) -> None:
    box, _, env = remote
    csv = _csv(tmp_path, 12)
    result = run(
        [
            "migrate",
            str(csv),
            "--dry-run",
            "--state-dir",
            str(tmp_path / "s"),
            "--report-dir",
            str(tmp_path / "r"),
        ],
        env,
    )
    assert result.exit_code == 0, result.output
    assert "dry run (nothing written): created 12, updated 0, unchanged 0, skipped 0" in result.output
    assert account_contacts(box.app) == {}
    assert all(
        not ep.startswith(("PUT", "PATCH", "DELETE")) and ep != "POST /api/contact"
        for ep in box.app.request_counts()
    )
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "dry_run" and doc["dry_run"]["contacts"]["created"] == 12


def test_monthly_quota_exits_75_with_reset_time_and_resume_after_reset(run, remote, tmp_path: Path) -> None:
    box, clock, env = remote
    csv = _csv(tmp_path, 40)
    args = ["migrate", str(csv), "--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    paused = run(args, env)
    assert paused.exit_code == 75, paused.output
    # the CLI's clock is the real one: reset = now + the server's Retry-After (3 days of the fake clock)
    when = re.search(r"resume after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \(UTC\)", paused.output)
    assert "monthly API quota exhausted" in paused.output and when, paused.output
    assert "to resume, run: bme-migrate migrate" in paused.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "paused" and doc["resume_after"] == when.group(1)
    assert when.group(1) in run(["status", "--state-dir", str(tmp_path / "s")]).output
    clock.advance(3 * 86400 + 1)
    done = run(args, env)
    assert done.exit_code == 0, done.output
    assert len(account_contacts(box.app)) == 40
    for path in [*(tmp_path / "s").rglob("*"), *(tmp_path / "r").rglob("*")]:
        if path.is_file():
            assert box.api_key.encode() not in path.read_bytes(), path
    assert box.api_key not in paused.output + done.output


def test_missing_scope_exits_4_naming_it(run, remote, tmp_path: Path) -> None:
    _, _, env = remote
    key_file = tmp_path / "ro.txt"
    key_file.write_text("bme_sandbox_readonly\n")
    result = run(
        [
            "migrate",
            str(_csv(tmp_path, 2)),
            "--state-dir",
            str(tmp_path / "s"),
            "--api-key-file",
            str(key_file),
        ],
        env,
    )
    assert result.exit_code == 4, result.output
    assert "contacts:write" in result.output


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_checkpoints_and_exits_75(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    csv = _csv(tmp_path, 1500)  # fits the embedded sandbox's 3,600/h, so nothing is paced
    env = {k: v for k, v in os.environ.items() if not k.startswith("BME_")}
    cmd = [
        str(Path(sys.executable).with_name("bme-migrate")),
        "migrate",
        str(csv),
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "s" / "ledger.db").exists():
        time.sleep(0.05)
    time.sleep(0.5)  # into the creates
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    text = (out + err).decode()
    assert proc.returncode == 75, text
    assert "interrupted" in text and "to resume, run: bme-migrate migrate" in text
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "paused" and doc["rows"]["pending"] > 0
    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["created"] == 1500 and doc["rows"]["pending"] == 0


def test_dry_run_simulates_creating_fields_lists_and_tags(run, tmp_path: Path) -> None:
    import sqlite3

    state = tmp_path / "s"
    result = run(
        ["migrate", MAILCHIMP, "--dry-run", "--state-dir", str(state), "--report-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "would create 14 fields" in result.output and "would create 1 lists" in result.output
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    # setup bills resolution's reads (structure, lists) and its simulated writes (one PUT, one list POST)
    assert doc["dry_run"]["requests"]["setup"] == 4 and doc["dry_run"]["contacts"]["created"] > 0
    ends = doc["dry_run"]["by_endpoint"]
    assert (
        ends["PUT /api/contact-structure/{structureId}"]
        == ends["POST /api/contact-structure/{structureId}/lists"]
        == 1
    )
    db = sqlite3.connect(state / "sandbox.db")
    assert db.execute("SELECT COUNT(*) FROM contacts").fetchone() == (0,)
    assert db.execute("SELECT v FROM structures").fetchone() == (0,)  # the structure was never PUT
    assert not (state / "ledger.db").exists()  # a dry run starts no run


def test_no_verify_skips_the_read_back(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = ["migrate", str(_csv(tmp_path, 3)), "--no-verify", "--state-dir", str(tmp_path / "s")]
    result = run([*args, "--report-dir", str(tmp_path / "r")], env)
    assert result.exit_code == 0, result.output
    assert "verify:    skipped (--no-verify)" in result.output
    assert not (tmp_path / "r" / "verify.json").exists() and "verifying run" not in result.output
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Not read back (--no-verify). Run <code>bme-migrate verify " in page  # the page says why


def test_headers_polars_reads_as_patterns_are_plain_columns(run, tmp_path: Path) -> None:
    """A header "*" or "^…$" is a pattern to polars' pl.col: validate and migrate must read it as a name —
    rejects.csv keeps it, the custom fields carry its cells, duplicates merge — and never crash."""
    path = tmp_path / "odd.csv"
    path.write_text(
        "Email,*,^a.*$\na@x.com,star,\nA@x.com,,caret\nbad-address,1,2\nb@x.com,3,\n", encoding="utf-8"
    )
    reports, state = tmp_path / "reports", tmp_path / "state"
    checked = run(["validate", str(path), "--report-dir", str(reports)])
    assert checked.exit_code == 0, checked.output
    doc = json.loads((reports / "report.json").read_text())
    assert doc["rows"] == {"read": 4, "valid": 2, "rejected": 1, "merged_duplicate": 1}
    rejects = (reports / "rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[0].startswith("Email,*,^a.*$,") and rejects[1].startswith("bad-address,1,2,")
    moved = run(["migrate", str(path), "--state-dir", str(state), "--report-dir", str(reports)])
    assert moved.exit_code == 0, moved.output
    totals = json.loads((reports / "report.json").read_text())["rows"]
    assert (totals["created"], totals["rejected"]) == (3, 1)  # rows: the merged one counts with its person
    assert "verify:    clean — 2 contacts checked" in moved.output


def test_values_left_out_after_validate_are_in_rejects_csv_as_read(run, remote, tmp_path: Path) -> None:
    """A value the account's field type cannot take is left out at mapping (the contact still arrives):
    rejects.csv lists that row too, in its original cells with ``field`` naming what was left out, beside
    validate's rejects — every row that did not arrive, or arrived without a value, can be fixed."""
    box, _, env = remote
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        s = http.get("/api/contact-structure").json()[0]
        typed = [*s["fields"], {"label": "Age", "dataType": "number", "required": False}]
        body = {
            "label": s["label"],
            "keyName": s["keyName"],
            "__v": s["__v"],
            "tags": s["tags"],
            "fields": typed,
        }
        assert http.put(f"/api/contact-structure/{s['_id']}", json=body).status_code == 200
    src = tmp_path / "people.csv"
    src.write_text(
        "email,Age\na@example.com,41\n  b@example.com , forty-two \nnot-an-address,7\n", encoding="utf-8"
    )
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    done = run(["migrate", str(src), *flags], env)
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader((tmp_path / "r" / "rejects.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["email"], r["Age"], r["reason_code"], r["source_line"], r["field"]) for r in rows] == [
        ("  b@example.com ", " forty-two ", "type_mismatch", "3", "Age"),
        ("not-an-address", "7", "invalid_email", "4", ""),
    ]
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["rejected"] == 1 and doc["rows"]["created"] == 2
    assert doc["field_problems"]["by_field"] == {"Age": {"type_mismatch": 1}}
    arrived = account_contacts(box.app)
    assert set(arrived) == {"a@example.com", "b@example.com"}  # b arrived, without its Age
    again = run(["migrate", str(src), *flags], env)  # already complete: re-reported the same
    assert again.exit_code == 0, again.output
    assert (
        len(list(csv.DictReader((tmp_path / "r" / "rejects.csv").read_text("utf-8-sig").splitlines()))) == 2
    )


def test_rows_the_target_refused_are_read_again_as_they_were(tmp_path: Path) -> None:
    """A contact the target refuses at load is failed with every row that merged into it; rejects.csv
    gets those rows' cells by one more pass over the file (here over a ZIP of two exports)."""
    import zipfile

    from etl.pipeline.inputs import read_inputs
    from etl.pipeline.migration import _later_rejects
    from etl.reasons import RejectReason

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("subscribed_a.csv", "Email Address,First Name\na@x.com,Ann\nb@x.com,=Bob\n")
        zf.writestr("unsubscribed_a.csv", "Email Address,First Name\nc@x.com,Cy\n")
    read = read_inputs([str(archive)], preset=None, state_dir=tmp_path / "s")
    ids = dict(read.validation.canonical.select("key", "row_id").iter_rows())
    got, fields = _later_rejects(
        [str(archive)], read, None, [(ids["b@x.com"], "ValidationError: no"), (ids["c@x.com"], "x")]
    )
    assert fields is None
    assert got is not None
    rows = got.select("Email Address", "First Name", "reason_code", "reason", "source_line").rows()
    assert rows == [
        ("b@x.com", "=Bob", RejectReason.TARGET_REJECTED, "ValidationError: no", 3),
        ("c@x.com", "Cy", RejectReason.TARGET_REJECTED, "x", 2),
    ]
    assert _later_rejects([str(archive)], read, None, []) == (None, None)


def test_encoding_reads_the_names_and_makes_its_own_run(run, remote, tmp_path: Path) -> None:
    """A file whose code page cannot be told stops before any request; with --encoding its names reach
    the account as written, and another encoding is another run (other bytes → other contacts)."""
    box, _, env = remote
    p = tmp_path / "ru.csv"
    p.write_bytes("Email,First Name\r\nivan@example.com,Иван\r\n".encode("cp1251"))
    base = ["migrate", str(p), "--state-dir", str(tmp_path / "s"), "--no-verify", "--create-fields"]
    refused = run([*base, "--report-dir", str(tmp_path / "a")], env)
    assert refused.exit_code == 2 and "--encoding NAME" in refused.err
    assert box.app.request_counts() == {}
    done = run([*base, "--encoding", "cp1251", "--report-dir", str(tmp_path / "b")], env)
    assert done.exit_code == 0, done.output
    assert "Иван" in dict(account_contacts(box.app)["ivan@example.com"].fields).values()
    first = json.loads((tmp_path / "b" / "report.json").read_text())["run_id"]
    other = run([*base, "--encoding", "koi8-r", "--dry-run", "--report-dir", str(tmp_path / "c")], env)
    assert other.exit_code == 0, other.output
    assert json.loads((tmp_path / "c" / "report.json").read_text())["run_id"] != first


def test_rows_and_contacts_are_counted_apart(run, tmp_path: Path) -> None:
    """8 rows: 1 rejected, 1 a duplicate merged into another row: 7 rows count as created (the merged one
    with its person) but 6 contacts were created, and both the summary and report.json say which is which."""
    reports = tmp_path / "r"
    done = run(["migrate", MAILCHIMP, "--report-dir", str(reports), "--state-dir", str(tmp_path / "s")])
    assert done.exit_code == 0, done.output
    doc = json.loads((reports / "report.json").read_text())
    assert (doc["rows"]["read"], doc["rows"]["created"], doc["rows"]["merged_duplicate"]) == (8, 7, 1)
    assert doc["contacts"] == {
        "planned": 6,
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "pending": 0,
    }
    assert "rows:      8 read = created 7 " in done.out
    assert "contacts:  6 = created 6 + updated 0 + unchanged 0 + skipped 0 + failed 0\n" in done.out


def test_a_resumed_runs_report_has_its_timeline(run, tmp_path: Path) -> None:
    """Each invocation of a run (from events.jsonl) is in report.json and on the page, oldest first."""
    args = ["migrate", MAILCHIMP, "--report-dir", str(tmp_path / "r"), "--state-dir", str(tmp_path / "s")]
    assert run([*args, "--max-requests", "3"]).exit_code == 75
    assert run(args).exit_code == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    first, second = doc["invocations"]
    assert (first["outcome"], second["outcome"]) == ("paused", "complete")
    assert "--max-requests 3" in first["reason"] and first["requests"] == 3
    assert first["started"] <= first["ended"] <= second["started"] <= second["ended"]
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Timeline" in page and page.index("paused") < page.index("Everything matches")


def test_a_missing_source_is_refused_before_the_embedded_sandbox_starts(run, tmp_path: Path) -> None:
    """Without a key, migrate starts a local sandbox and announces the rehearsal; a source path that does not
    exist must be refused first, not after the announcement and a sandbox database nobody needs."""
    state = tmp_path / "s"
    missing = str(tmp_path / "nope.csv")
    result = run(["migrate", missing, "--state-dir", str(state), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and result.err.strip() == f"error: {missing}: file not found", result.output
    assert "sandbox" not in result.output
    assert not (state / "sandbox.db").exists()
