"""One bad cell never costs a contact; a run that would write nothing, or mostly rejects, stops first.

End to end through ``bme-migrate migrate`` into a local sandbox over real HTTP: a HubSpot export re-saved
by a spreadsheet (``Create Date`` as ``2/5/24 1:51``, the company's columns repeating the contact's
header names), with a garbage date, a 300-character text and a number that does not parse.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts

HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Create Date",
    "Last Activity Date",
    "Country/Region",
    "Job Title",
    "Employees",
    "Associated Company",
    "Create Date",
    "Phone Number",
    "Last Activity Date",
    "Country/Region",
]
N = 12
GARBAGE_DATE, LONG_TITLE, BAD_NUMBER = 3, 5, 7  # which rows hold a bad cell


def _export(tmp_path: Path) -> Path:
    rows = []
    for i in range(N):
        rows.append(
            [
                str(1000 + i),
                f"First{i}",
                f"Last{i}",
                f"person{i}@example.com",
                f"+1 555 01{i:02d}",
                "soon-ish" if i == GARBAGE_DATE else f"2/{i + 1}/24 1:51",
                f"3/{i + 1}/24 9:05",
                "Sweden",
                "T" * 300 if i == LONG_TITLE else f"Title {i}",
                "twelve" if i == BAD_NUMBER else str(10 + i),
                f"Company {i}",
                "1/15/23 10:00",
                "+46 8 000 00",
                "12/31/23 23:59",
                "Norway",
            ]
        )
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([HEADER, *rows])
    path = tmp_path / "hubspot-crm-exports-all-contacts-2024-02-05.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def box(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n")
    return box, {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}


def _mapping(tmp_path: Path) -> Path:
    """HubSpot's preset plus a number field, so an unparseable number is exercised too."""
    path = tmp_path / "hubspot_plus.toml"
    path.write_text(
        'extends = "hubspot"\n[[fields]]\nsource = "Employees"\ntarget = "Employees"\ntype = "number"\n',
        encoding="utf-8",
    )
    return path


def _field_ids(box) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        s = http.get("/api/contact-structure").json()[0]
    return {f["label"]: f["_id"] for f in s["fields"]}


def test_a_spreadsheet_saved_hubspot_export_loads_every_contact(run, box, tmp_path: Path) -> None:
    sandbox, env = box
    src, reports = _export(tmp_path), tmp_path / "r"
    args = ["migrate", str(src), "--mapping", str(_mapping(tmp_path)), "--create-fields", "--no-verify"]
    done = run([*args, "--state-dir", str(tmp_path / "s"), "--report-dir", str(reports)], env)
    assert done.exit_code == 0, done.output
    assert "fields:    3 value(s) left out of 3 row(s), which still count" in done.output

    doc = json.loads((reports / "report.json").read_text())
    assert doc["state"] == "complete"
    assert (doc["rows"]["created"], doc["rows"]["rejected"]) == (N, 0)
    fp = doc["field_problems"]
    assert fp["by_field"] == {
        "Created Date": {"bad_date": 1},
        "Job Title": {"too_long": 1},
        "Employees": {"bad_number": 1},
    }
    assert (fp["cells"], fp["rows"], fp["value_chars"]) == (3, 3, 200)
    long = next(s for s in fp["samples"] if s["reason_code"] == "too_long")
    assert long["value"] == "T" * 200 and long["line"] == LONG_TITLE + 2 and long["column"] == "Job Title"
    html = (reports / "report.html").read_text()
    assert "Field problems" in html and "soon-ish" in html

    # the repeated headers are distinct columns, named so a person sees which is which
    sources = {c["source"]: c for c in doc["mapping"]["columns"]}
    for name in ("Create Date (2)", "Phone Number (2)", "Country/Region (2)", "Last Activity Date (2)"):
        assert name in sources, sorted(sources)
    labels = {f["label"]: f for f in doc["fields"]}
    assert labels["Create Date (2)"]["source"] == "Create Date (2)" and labels["Create Date (2)"]["custom"]

    ids = _field_ids(sandbox)
    people = account_contacts(sandbox.app)
    assert len(people) == N
    for i in range(N):
        fields = dict(people[f"person{i}@example.com"].fields)
        created = fields.get(ids["Created Date"])
        assert created == (None if i == GARBAGE_DATE else f"2024-02-{i + 1:02d}"), (i, created)
        assert (ids["Job Title"] in fields) is (i != LONG_TITLE)
        assert fields.get(ids["Employees"]) == (None if i == BAD_NUMBER else str(10 + i))
        assert fields[ids["Create Date (2)"]] == "1/15/23 10:00"  # the company's, kept as text
        assert fields[ids["Country"]] == "Sweden" and fields[ids["Country/Region (2)"]] == "Norway"

    with (reports / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    head, lines = table[0], table[1:]
    assert head[: len(HEADER)] == HEADER  # the header as the file had it, repeats included
    assert head[len(HEADER) :] == ["reason_code", "reason", "source_file", "source_line", "field"]
    got = [(ln[3], ln[-1], ln[-5], ln[-2]) for ln in lines]
    assert got == [
        (f"person{GARBAGE_DATE}@example.com", "Created Date", "bad_date", str(GARBAGE_DATE + 2)),
        (f"person{LONG_TITLE}@example.com", "Job Title", "too_long", str(LONG_TITLE + 2)),
        (f"person{BAD_NUMBER}@example.com", "Employees", "bad_number", str(BAD_NUMBER + 2)),
    ]
    assert lines[1][8] == "T" * 300  # the cell as read, whole

    # the fixed rejects.csv validates as the export did: the repeats are renamed the same way again
    again = run(
        [
            "validate",
            str(reports / "rejects.csv"),
            "--mapping",
            str(_mapping(tmp_path)),
            "--report-dir",
            str(tmp_path / "v"),
        ]
    )
    assert again.exit_code == 0, again.output
    back = json.loads((tmp_path / "v" / "report.json").read_text())
    assert back["rows"]["valid"] == 3 and "field" not in {f["label"] for f in back["fields"]}
    assert "Create Date (2)" in {f["label"] for f in back["fields"]}


def _mostly_invalid(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    lines = ["Email,First Name", "ok1@example.com,A", "ok2@example.com,B", ",blank line"]
    lines += [f"person{i} at example.com,X{i}" for i in range(5)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mostly_rejected_rows_stop_before_the_first_request(run, box, tmp_path: Path) -> None:
    sandbox, env = box
    src = _mostly_invalid(tmp_path)
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r"), "--create-fields"]
    stopped = run(["migrate", str(src), *flags], env)
    assert stopped.exit_code == 2, stopped.output
    assert (
        "error: stopped before writing anything: most rows were rejected: 5 of 7 rows with an address "
        "(invalid_email 5; see rejects.csv)" in stopped.err
    )
    assert "--allow-mostly-rejected" in stopped.err and "state:     STOPPED before writing" in stopped.out
    assert (
        "rows:      8 read = created 0 + updated 0 + unchanged 0 + skipped 0 + rejected 6 + failed 0 + "
        "not written 2" in stopped.out
    )
    assert sandbox.app.request_counts() == {}  # not even resolution's reads
    assert account_contacts(sandbox.app) == {}
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "stopped" and "most rows were rejected" in doc["load"]["stop_reason"]
    assert "Stopped before writing anything" in (tmp_path / "r" / "report.html").read_text()

    again = run(["migrate", str(src), *flags], env)  # nothing was started: it stops again
    assert again.exit_code == 2 and sandbox.app.request_counts() == {}

    preview = run(["migrate", str(src), *flags, "--dry-run"], env)  # a preview says so and succeeds
    assert preview.exit_code == 0, preview.output
    assert "warning: a real run would stop before writing: most rows were rejected" in preview.err
    assert "A real run would stop before writing" in (tmp_path / "r" / "report.html").read_text()
    assert sandbox.app.request_counts() and account_contacts(sandbox.app) == {}  # reads only
    assert (
        "most rows were rejected"
        in json.loads((tmp_path / "r" / "report.json").read_text())["load"]["would_stop"]
    )

    forced = run(["migrate", str(src), *flags, "--allow-mostly-rejected", "--no-verify"], env)
    assert forced.exit_code == 0, forced.output
    assert set(account_contacts(sandbox.app)) == {"ok1@example.com", "ok2@example.com"}


def test_a_run_that_would_write_nothing_stops_but_a_completed_rerun_does_not(
    run, box, tmp_path: Path
) -> None:
    sandbox, env = box
    empty = tmp_path / "pending.csv"  # every contact pending: skipped without --import-unconfirmed
    empty.write_text("Email,Status\na@example.com,pending\nb@example.com,pending\n", encoding="utf-8")
    flags = ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r"), "--no-verify"]
    stopped = run(["migrate", str(empty), *flags], env)
    assert stopped.exit_code == 2, stopped.output
    assert "no contact would be written: all 2 valid contacts are pending" in stopped.err
    assert sandbox.app.request_counts() == {}

    fine = tmp_path / "fine.csv"
    fine.write_text("Email\na@example.com\nb@example.com\n", encoding="utf-8")
    assert run(["migrate", str(fine), *flags], env).exit_code == 0
    rerun = run(["migrate", str(fine), *flags], env)  # every contact written already: not a stop
    assert rerun.exit_code == 0, rerun.output
    assert "already complete" in rerun.output


def test_an_export_with_its_own_field_column_round_trips_through_rejects_csv(run, tmp_path: Path) -> None:
    """rejects.csv's ``field`` column sits beside an export's own "field" column without a clash, and
    read back, the export's stays data while ours is bookkeeping."""
    src = tmp_path / "f.csv"
    src.write_text(f"Email,field,Note\na@x.com,f1,{'n' * 300}\nbad,f2,x\n", encoding="utf-8")
    first = run(["validate", str(src), "--report-dir", str(tmp_path / "r")])
    assert first.exit_code == 0, first.output
    with (tmp_path / "r" / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == [
        "Email",
        "field",
        "Note",
        "reason_code",
        "reason",
        "source_file",
        "source_line",
        "field",
    ]
    assert [(r[0], r[1], r[3], r[-1]) for r in table[1:]] == [
        ("a@x.com", "f1", "too_long", "Note"),
        ("bad", "f2", "invalid_email", ""),
    ]
    back = run(["validate", str(tmp_path / "r" / "rejects.csv"), "--report-dir", str(tmp_path / "b")])
    assert back.exit_code == 0, back.output
    labels = [f["label"] for f in json.loads((tmp_path / "b" / "report.json").read_text())["fields"]]
    assert labels == ["field", "Note"]
