"""``bme-migrate verify`` end to end: the real entry point, real files, real HTTP, exit codes and words."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from etl.sandbox.knobs import Knobs
from tests.load_support import people_csv

ROOT = Path(__file__).resolve().parents[2]
MAILCHIMP = str(ROOT / "samples" / "mailchimp_audience.zip")
SEARCH = "POST /api/contact/search"


def _csv(tmp_path: Path, n: int) -> Path:
    return people_csv(tmp_path, n, company=True)


@pytest.fixture
def remote(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n")
    return box, {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}


def _migrate(run, env: dict[str, str], tmp_path: Path, n: int = 8) -> str:  # type: ignore[no-untyped-def]
    args = ["migrate", str(_csv(tmp_path, n)), "--list", "Newsletter", "--create-fields", "--create-lists"]
    done = run([*args, "--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r")], env)
    assert done.exit_code == 0, done.output
    return json.loads((tmp_path / "r" / "report.json").read_text())["run_id"]


def test_verify_clean_then_tampered_exits_5_naming_key_and_field(run, remote, tmp_path: Path) -> None:
    box, env = remote
    run_id = _migrate(run, env, tmp_path)
    flags = ["--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r")]
    box.app.reset_counts()
    clean = run(["verify", *flags], env)
    assert clean.exit_code == 0, clean.output
    lines = clean.out.splitlines()
    assert lines[0].startswith("plan: 1 search request(s) in all = 1 probe (spent)")  # the bill comes first
    assert f"run {run_id} (complete, on-existing merge): checked 8" in clean.out
    assert 'list "Newsletter": 8 of 8 checked contacts in it; 8 members in the account' in clean.out
    assert "verified: clean" in clean.out
    assert set(box.app.request_counts()) == {SEARCH}
    doc = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert {"run_id", "checked", "sampled", "ok", "mismatches", "lists", "requests"} <= set(doc)
    assert (doc["run_id"], doc["checked"], doc["ok"], doc["sampled"], doc["mismatches"]) == (
        run_id,
        8,
        8,
        False,
        [],
    )
    assert doc["lists"][0]["name"] == "Newsletter" and doc["lists"][0]["total_records"] == 8
    assert doc["requests"]["total"] == doc["requests"]["planned"] == box.app.request_counts()[SEARCH]

    store = box.app.store
    with store.lock:
        row = next(
            r for r in store.contacts_by_ids(store.all_contact_ids()) if r.key == "person3@example.com"
        )
        fields = [(f, "<b>Acme & Co</b>" if v == "Co3" else v) for f, v in row.fields]
        store.replace_contact(row, dataclasses.replace(row, fields=fields))
    bad = run(["verify", run_id[:7], *flags], env)
    assert bad.exit_code == 5, bad.output
    assert 'person3@example.com: field "Company" (id ' in bad.out
    assert 'is "<b>Acme & Co</b>" in the account, expected "Co3"' in bad.out
    assert f"error: 1 mismatch(es) in run {run_id}" in bad.err
    doc = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert doc["mismatches"] == [
        {
            "key": "person3@example.com",
            "kind": "field",
            "field": "Company",
            "field_id": doc["mismatches"][0]["field_id"],
            "expected": "Co3",
            "actual": "<b>Acme & Co</b>",
        }
    ]
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count('<section id="verify">') == 1  # replaced on re-run, not duplicated
    assert "&lt;b&gt;Acme &amp; Co&lt;/b&gt;" in page and "<b>Acme & Co</b>" not in page


def test_sample_is_announced_and_checks_exactly_n(run, remote, tmp_path: Path) -> None:
    _, env = remote
    _migrate(run, env, tmp_path)
    sampled = run(
        [
            "verify",
            "--sample",
            "3",
            "--state-dir",
            str(tmp_path / "state"),
            "--report-dir",
            str(tmp_path / "r"),
        ],
        env,
    )
    assert sampled.exit_code == 0, sampled.output
    assert "SAMPLE: only 3 of 8 keys are checked" in sampled.out and "--sample 3" in sampled.out
    doc = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert doc["checked"] == 3 and doc["sampled"] is True and doc["population"] == 8


def test_another_target_and_missing_runs_are_one_line_errors(
    run, remote, sandbox_factory, tmp_path: Path
) -> None:
    box, env = remote
    empty = run(["verify", "--state-dir", str(tmp_path / "nothing")], env)
    assert empty.exit_code == 2 and empty.err.strip().startswith("error: no runs in") and empty.out == ""
    _migrate(run, env, tmp_path)
    other = sandbox_factory()
    wrong = run(["verify", "--state-dir", str(tmp_path / "state")], {**env, "BME_BASE_URL": other.url})
    assert wrong.exit_code == 2, wrong.output
    assert (
        f"was loaded into {box.url}, not {other.url}" in wrong.err
        and len(wrong.err.strip().splitlines()) == 1
    )
    assert other.app.request_counts() == {}


def test_embedded_sandbox_run_verifies_with_the_default_dirs(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # reports/<run id> is relative to the working directory, as for migrate
    done = run(["migrate", MAILCHIMP])
    assert done.exit_code == 0, done.output
    checked = run(["verify"])  # a new embedded sandbox on a new port over the same .etl/sandbox.db
    assert checked.exit_code == 0, checked.output
    assert "embedded local sandbox" in checked.err and "checked 6" in checked.out
    (run_dir,) = (tmp_path / "reports").iterdir()
    assert (run_dir / "verify.json").is_file()
    assert '<section id="verify">' in (run_dir / "report.html").read_text()


def test_help_has_an_example(run) -> None:
    shown = run(["verify", "--help"])
    assert shown.exit_code == 0 and "bme-migrate verify" in shown.out and "--sample" in shown.out


def test_migrate_exits_5_when_its_own_read_back_finds_a_mismatch(run, remote, tmp_path: Path) -> None:
    """Another integration changes a contact between our last write and the read-back: migrate says so.

    The sandbox (the test double, not our code) is wrapped so that the first search after the last create —
    the read-back's probe — finds person2's Company changed; the real CLI must end with exit 5 naming it.
    """
    box, env = remote
    app = box.app
    handle = app.handle
    creates = {"n": 0}

    def tampering_handle(request):  # type: ignore[no-untyped-def]
        if request.method == "POST" and request.path == "/api/contact":
            creates["n"] += 1
        elif request.path == "/api/contact/search" and creates["n"] == 8:
            creates["n"] = -1  # once
            store = app.store
            with store.lock:
                row = next(
                    r
                    for r in store.contacts_by_ids(store.all_contact_ids())
                    if r.key == "person2@example.com"
                )
                fields = [(f, "Changed Inc" if v == "Co2" else v) for f, v in row.fields]
                store.replace_contact(row, dataclasses.replace(row, fields=fields))
        return handle(request)

    app.handle = tampering_handle  # type: ignore[method-assign]
    args = ["migrate", str(_csv(tmp_path, 8)), "--create-fields"]
    done = run([*args, "--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r")], env)
    assert done.exit_code == 5, done.output
    assert 'person2@example.com: field "Company"' in done.out
    assert 'is "Changed Inc" in the account, expected "Co2"' in done.out
    assert "mismatch" in done.err


def test_commands_that_do_not_migrate_never_say_migrating(run, tmp_path: Path) -> None:
    """Against the embedded sandbox, verify says it reads back and mappings plan that it plans; only migrate migrates."""
    csv = _csv(tmp_path, 3)
    state = ["--state-dir", str(tmp_path / "state")]
    migrated = run(["migrate", str(csv), *state, "--report-dir", str(tmp_path / "r")], {})
    assert migrated.exit_code == 0, migrated.output
    assert "migrating into the embedded local sandbox" in migrated.output
    checked = run(["verify", *state, "--report-dir", str(tmp_path / "r")], {})
    assert checked.exit_code == 0, checked.output
    assert "reading back from the embedded local sandbox" in checked.output
    planned = run(["mappings", "plan", str(csv), *state], {})
    assert planned.exit_code == 0, planned.output
    assert "planning against the embedded local sandbox" in planned.output
    assert "migrating" not in checked.output + planned.output
