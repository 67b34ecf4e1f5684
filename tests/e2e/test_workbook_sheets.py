"""A hand-made workbook with a "Subscribed" and an "Unsubscribed" sheet, end to end: every sheet is read,
named ``book.xlsx [Sheet]`` in the report, rejects.csv and the console; migrate sends the rows of both."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from samples.generate import write_workbook
from tests.e2e.conftest import Run


def _book(tmp_path: Path) -> Path:
    """Sheet 1: two people and a bad address; sheet 2 (another header case): one of them again."""
    book = tmp_path / "book.xlsx"
    subscribed = [
        ["Email", "First Name"],
        ["ann@example.com", "Ann"],
        ["bob@example.com", "Bob"],
        ["not-an-email", "Nobody"],
    ]
    write_workbook(
        book, [("Subscribed", subscribed, False), ("Unsubscribed", [["EMAIL"], ["ANN@example.com"]], False)]
    )
    return book


def test_validate_reads_every_sheet_and_names_it(run: Run, tmp_path: Path) -> None:
    book, reports = _book(tmp_path), tmp_path / "reports"
    result = run(["validate", str(book), "--report-dir", str(reports)])
    assert result.exit_code == 0, result.output
    assert "read 4 rows from 2 file(s)" in result.output
    doc = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert [(f["path"], f["rows"]) for f in doc["files"]] == [
        (f"{book} [Subscribed]", 3),
        (f"{book} [Unsubscribed]", 1),
    ]
    t = doc["rows"]
    assert t == {"read": 4, "valid": 2, "rejected": 1, "merged_duplicate": 1}  # every row accounted
    with (reports / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [(r["Email"], r["source_file"], r["source_line"]) for r in rejects] == [
        ("not-an-email", f"{book} [Subscribed]", "4")
    ]


def test_migrate_sends_the_rows_of_both_sheets(run: Run, tmp_path: Path) -> None:
    book, reports = _book(tmp_path), tmp_path / "reports"
    result = run(["migrate", str(book), "--state-dir", str(tmp_path / "state"), "--report-dir", str(reports)])
    assert result.exit_code == 0, result.output
    assert "embedded local sandbox" in result.output and "rows:      4 read = created 3 " in result.output
    doc = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert [f["path"] for f in doc["files"]] == [f"{book} [Subscribed]", f"{book} [Unsubscribed]"]
    t = doc["rows"]
    assert (t["read"], t["created"], t["rejected"]) == (4, 3, 1)  # the merged row counts with its person
    assert "verify:    clean — 2 contacts checked" in result.output
    # the "Unsubscribed" sheet's name speaks for its rows: Ann, in both sheets, arrives unsubscribed (Inactive)
    assert (doc["by_status"]["subscribed"], doc["by_status"]["unsubscribed"]) == (1, 1)
    by = {(d["by"], d["value"], d["status"]): d["rows"] for d in doc["consent"]["decided_by"]}
    assert by[("file name", f"{book} [Unsubscribed]", "unsubscribed")] == 1


def test_a_sheet_without_addresses_is_rejected_row_by_row_and_a_summary_skipped(
    run: Run, tmp_path: Path
) -> None:
    """Decided: a sheet with rows but no address is read and each row rejected with its reason (accounted
    for); a summary sheet of at most two rows, with no email header and no ``@``, is skipped with a warning."""
    book, reports = tmp_path / "book.xlsx", tmp_path / "reports"
    contacts = [["Email"], ["ann@example.com"], ["bob@example.com"]]
    phones = [["Name", "Phone"], ["Cy", "555-1"], ["Di", "555-2"], ["Ed", "555-3"]]
    summary = [["Status", "Count"], ["Subscribed", 2]]
    write_workbook(book, [("Contacts", contacts, False), ("Phones", phones, False), ("Pivot", summary, True)])
    result = run(["validate", str(book), "--report-dir", str(reports)])
    assert result.exit_code == 0, result.output
    assert f"warning: {book} [Pivot]: skipped, 1 row(s) with no email column" in result.output
    assert "read 5 rows from 2 file(s)" in result.output
    doc = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert doc["rows"] == {"read": 5, "valid": 2, "rejected": 3, "merged_duplicate": 0}
    with (reports / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [(r["Name"], r["source_file"], r["source_line"]) for r in rejects] == [
        ("Cy", f"{book} [Phones]", "2"),
        ("Di", f"{book} [Phones]", "3"),
        ("Ed", f"{book} [Phones]", "4"),
    ]
    assert {r["reason_code"] for r in rejects} == {"missing_email"}
