"""Consent fails closed, end to end: an opt-out in a column no preset knows never arrives Active, and a
column that cannot be read stops ``migrate`` before its first write until a person settles it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.load_support import account_contacts, migrate_into, statuses

GHOSTLIKE = (
    "email,name,subscribed_to_emails,email_disabled,unsubscribed_at,status\n"
    "ada@example.com,Ada,true,false,,active\n"
    "bob@example.com,Bob,false,false,,active\n"
    "cy@example.com,Cy,true,true,,active\n"
    "di@example.com,Di,true,false,2024-02-05 10:00:00 UTC,active\n"
    "ed@example.com,Ed,true,false,,bounced\n"
)


def test_opt_outs_in_unknown_columns_arrive_inactive(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    src = tmp_path / "export.csv"
    src.write_text(GHOSTLIKE, encoding="utf-8")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    args = [
        "migrate",
        str(src),
        "--preset",
        "generic",
        "--create-fields",
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
        "--no-verify",
    ]
    done = run(args, env)
    assert done.exit_code == 0, done.output
    have = account_contacts(box.app)
    assert {k: c.status for k, c in have.items()} == {
        "ada@example.com": "Active",
        "bob@example.com": "Inactive",
        "cy@example.com": "Inactive",
        "di@example.com": "Inactive",
        "ed@example.com": "Inactive",
    }
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    by = {(d["by"], d["value"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert (
        by[('column "subscribed_to_emails"', "false")] == 1 and by[('column "email_disabled"', "true")] == 1
    )
    assert by[('column "status"', "bounced")] == 1


def test_an_unreadable_consent_column_stops_before_any_write(run, sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory()
    src = tmp_path / "export.csv"
    src.write_text(
        "Email,First Name,Newsletter\nada@example.com,Ada,yes\nbob@example.com,Bob,no thanks\n",
        encoding="utf-8",
    )
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    base = [
        "migrate",
        str(src),
        "--create-fields",
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
        "--no-verify",
    ]
    stopped = run(base, env)
    assert stopped.exit_code == 2, stopped.output
    first, column_line = stopped.err.strip().splitlines()
    assert first.startswith("error: consent is unclear in 1 column; nothing was written")
    assert column_line.strip().startswith('column "Newsletter" may carry consent')  # its own line
    assert 'column "Newsletter"' in stopped.err and '"no thanks" 1' in stopped.err
    assert "--ignore-column" in stopped.err and "Traceback" not in stopped.output
    assert account_contacts(box.app) == {}
    assert sum(box.app.request_counts().values()) == 0  # not even a read: the stop comes first

    settled = run(
        [
            *base,
            "--status-column",
            "Newsletter",
            "--status-value",
            "yes=subscribed",
            "--status-value",
            "no thanks=unsubscribed",
        ],
        env,
    )
    assert settled.exit_code == 0, settled.output
    have = account_contacts(box.app)
    assert have["ada@example.com"].status == "Active" and have["bob@example.com"].status == "Inactive"


def test_validate_lists_the_unclear_column_and_a_bad_status_value_is_a_usage_error(
    run, tmp_path: Path
) -> None:
    src = tmp_path / "export.csv"
    src.write_text("Email,Marketing Emails\nada@example.com,sometimes\n", encoding="utf-8")
    res = run(["validate", str(src), "--report-dir", str(tmp_path / "r")])
    assert res.exit_code == 0 and "migrate will stop" in res.err and 'column "Marketing Emails"' in res.err
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["consent"]["needs_decision"] == ["Marketing Emails"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Migrate will stop before writing" in html
    bad = run(["validate", str(src), "--status-value", "sometimes=maybe"])
    assert bad.exit_code == 2 and "--status-value 'sometimes=maybe'" in bad.err


def test_a_cp1252_console_gets_escapes_not_a_crash(tmp_path: Path) -> None:
    """A Windows console (cp1252) cannot show "→" in the "status decided by" lines or a Chinese name:
    the CLI writes "->" for its own arrow and escapes for the data instead of ending in "unexpected error:
    UnicodeEncodeError", piped too."""
    import os
    import subprocess
    import sys

    src = tmp_path / "salesforce_contacts.csv"
    src.write_text(
        '"First Name","Email","Email Opt Out","Mailing Country"\n'
        '"José","jose@example.com","0","España"\n"Li","li@example.com","1","中国"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BME_")}
    env["PYTHONIOENCODING"] = "cp1252"
    code = "import sys; from etl.cli import main; main(sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, "validate", str(src), "--report-dir", str(tmp_path / "r")],
        capture_output=True,
        env=env,
        timeout=120,
    )
    out, err = done.stdout.decode("cp1252"), done.stderr.decode("cp1252")
    assert done.returncode == 0, err
    assert "unexpected error" not in err and "->" in out and "\\u2192" not in out  # our arrow, in ASCII
    assert 'column "Email Opt Out" = "1"' in out  # read as consent; Mailing Country is not a question
    assert "may carry consent" not in err


def test_a_file_named_for_an_opt_out_gives_its_rows_that_status(run, sandbox_factory, tmp_path: Path) -> None:
    """Without a status column, people keep their opt-outs in files of their own: "unsubscribed.csv",
    "Bounced contacts 2024.csv". Their rows arriving Active was a silent opt-in; the name speaks now, and
    the most restrictive signal wins when the same person is also in the subscribers' file."""
    box = sandbox_factory()
    files = {
        "subscribers.csv": "Email,Name\nann@example.com,Ann\nbob@example.com,Bob\n",
        "unsubscribed.csv": "Email,Name\nBOB@example.com,Bob\n",
        "Bounced contacts 2024.csv": "Email,Name\ncy@example.com,Cy\n",
        "Nicht abgemeldet.csv": "Email,Name\ndi@example.com,Di\n",  # a negation is never read as one
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = migrate_into(run, box, [tmp_path / n for n in files], tmp_path)
    assert done.exit_code == 0, done.output
    assert statuses(box) == {
        "ann@example.com": "Active",
        "bob@example.com": "Inactive",
        "cy@example.com": "Inactive",
        "di@example.com": "Active",
    }
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    by = {(d["by"], d["status"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert by[("file name", "cleaned")] == 1 and by[("file name", "unsubscribed")] == 1
