"""A person whose consent column cannot be read is *undecided*, never "subscribed by default": validate,
the dry run and the stopped migrate say so alike, and the stop leaves a report dir with the questions.

Real files on disk, the real CLI, the sandbox over loopback HTTP (its request counter proves the stop
sent nothing); every report.json is checked against docs/schema/report.schema.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_report_schemas import _checked
from tests.load_support import account_contacts

# ja reads as "no opt-out"; vielleicht and nein cannot be read: three people are undecided
EXPORT = (
    "Email,First Name,Newsletter\n"
    "ada@example.com,Ada,ja\n"
    "bob@example.com,Bob,nein\n"
    "cy@example.com,Cy,vielleicht\n"
    "di@example.com,Di,vielleicht\n"
)
UNDECIDED_LINE = (
    "valid by status: subscribed 1, unsubscribed 0, cleaned 0, pending 0, no_consent 0; "
    "undecided 3 (consent unclear: migrate will stop)"
)


def _export(tmp_path: Path) -> Path:
    src = tmp_path / "export.csv"
    src.write_text(EXPORT, encoding="utf-8")
    return src


def _undecided_counts(doc: dict) -> None:
    assert doc["by_status"]["subscribed"] == 1 and sum(doc["by_status"].values()) == 1
    assert doc["consent"]["undecided_rows"] == 3 and doc["rows"]["valid"] == 4
    by = {(d["status"], d["by"], d["value"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert by == {
        ("undecided", 'column "Newsletter"', "vielleicht"): 2,
        ("undecided", 'column "Newsletter"', "nein"): 1,
        ("subscribed", "default", None): 1,
    }


def test_validate_counts_undecided_rows_apart_from_subscribed(run, tmp_path: Path) -> None:
    src = _export(tmp_path)
    res = run(["validate", str(src), "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert UNDECIDED_LINE in res.out.splitlines()
    assert (
        "3 → subscribed" not in res.out and '2 → undecided    column "Newsletter" = "vielleicht"' in res.out
    )
    assert "1 → subscribed   by default" in res.out  # ada alone: her "ja" says nothing against consent
    doc = _checked("report", tmp_path / "r" / "report.json")
    _undecided_counts(doc)
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "undecided — migrate will stop" in page and "<b>3</b> undecided" in page
    assert "<b>1</b> subscribed</span>" in page and "<b>4</b> subscribed" not in page


def test_a_consent_stop_writes_its_report_dir_and_sends_nothing(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    src = _export(tmp_path)
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    state = ["--state-dir", str(tmp_path / "s"), "--no-verify", "--create-fields"]

    stopped = run(["migrate", str(src), "--report-dir", str(tmp_path / "m"), *state], env)
    assert stopped.exit_code == 2, stopped.output
    assert stopped.err.startswith("error: consent is unclear in 1 column; nothing was written")
    assert f"reports:   {tmp_path / 'm' / 'report.html'}" in stopped.out
    assert 'STOPPED before writing — consent is unclear in column "Newsletter": 3 contact(s)' in stopped.out
    rows = next(x for x in stopped.out.splitlines() if x.startswith("rows:"))
    assert rows.endswith(" + failed 0 + not written 4"), rows  # the line's sum holds: 4 read, 4 not written
    assert sum(box.app.request_counts().values()) == 0 and account_contacts(box.app) == {}
    doc = _checked("report", tmp_path / "m" / "report.json")
    assert doc["state"] == "stopped" and doc["load"]["stop_reason"].startswith("consent is unclear")
    assert doc["requests"]["total"] == 0 and doc["consent"]["needs_decision"] == ["Newsletter"]
    _undecided_counts(doc)
    page = (tmp_path / "m" / "report.html").read_text(encoding="utf-8")
    assert "Stopped before writing anything" in page and "--allow-mostly-rejected" not in page
    assert '<code>--ignore-column "Newsletter"</code>' in page and "<code>vielleicht</code> 2" in page
    assert (tmp_path / "m" / "rejects.csv").is_file()

    # --json: the stopped run's report.json is the one document on stdout; the questions stay on stderr
    as_json = run(["migrate", str(src), "--json", "--report-dir", str(tmp_path / "j"), *state], env)
    assert as_json.exit_code == 2, as_json.output
    printed = json.loads(as_json.out)
    assert printed["state"] == "stopped" and printed["consent"]["undecided_rows"] == 3
    assert 'column "Newsletter" may carry consent' in as_json.err
    assert sum(box.app.request_counts().values()) == 0


def test_the_dry_run_says_what_validate_says(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    src = _export(tmp_path)
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    checked = run(["validate", str(src), "--report-dir", str(tmp_path / "v")])
    dry = run(
        ["migrate", str(src), "--dry-run", "--report-dir", str(tmp_path / "d"), "--state-dir", str(tmp_path)],
        env,
    )
    assert dry.exit_code == 0, dry.output
    assert UNDECIDED_LINE in dry.out.splitlines() and UNDECIDED_LINE in checked.out.splitlines()
    assert "a real run would stop before writing: consent is unclear" in dry.err
    assert "--allow-mostly-rejected" not in dry.err and 'column "Newsletter" may carry consent' in dry.err
    doc = _checked("report", tmp_path / "d" / "report.json")
    before = json.loads((tmp_path / "v" / "report.json").read_text(encoding="utf-8"))
    assert (doc["by_status"], doc["consent"]) == (before["by_status"], before["consent"])
    assert doc["load"]["would_stop"].startswith("consent is unclear")
    page = (tmp_path / "d" / "report.html").read_text(encoding="utf-8")
    assert "undecided — migrate will stop" in page and "--allow-mostly-rejected" not in page


def test_once_settled_the_counts_are_ordinary_and_the_file_migrates(
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory()
    src = _export(tmp_path)
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    ignored = ["--ignore-column", "Newsletter"]
    res = run(["validate", str(src), "--report-dir", str(tmp_path / "v"), *ignored])
    assert res.exit_code == 0 and "undecided" not in res.output and "may carry consent" not in res.err
    doc = _checked("report", tmp_path / "v" / "report.json")
    assert doc["by_status"]["subscribed"] == 4 and doc["consent"]["undecided_rows"] == 0
    assert "undecided" not in (tmp_path / "v" / "report.html").read_text(encoding="utf-8")

    settled = [
        "--status-column",
        "Newsletter",
        *("--status-value", "ja=subscribed", "--status-value", "nein=unsubscribed"),
        *("--status-value", "vielleicht=pending"),
    ]
    base = ["migrate", str(src), "--state-dir", str(tmp_path / "s"), "--no-verify", "--create-fields"]
    done = run([*base, "--report-dir", str(tmp_path / "m"), *settled], env)
    assert done.exit_code == 0, done.output
    doc = _checked("report", tmp_path / "m" / "report.json")
    assert doc["state"] == "complete" and doc["consent"]["undecided_rows"] == 0
    assert doc["by_status"] == {
        "subscribed": 1,
        "unsubscribed": 1,
        "cleaned": 0,
        "pending": 2,
        "no_consent": 0,
    }
    have = account_contacts(box.app)
    assert {k: c.status for k, c in have.items()} == {
        "ada@example.com": "Active",
        "bob@example.com": "Inactive",
    }
