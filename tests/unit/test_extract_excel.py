"""Workbooks: every sheet is a source of its own (real XLSX files on disk, written by samples/generate.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.extract.sources import read_sources
from samples.generate import write_workbook

SUBSCRIBED = [["Email", "First Name"], ["ann@example.com", "Ann"], [], ["bob@example.com", "Bob"]]
UNSUBSCRIBED = [[], ["EMAIL", "Reason"], [], ["ANN@example.com", "asked"]]  # starts on row 2


def test_every_sheet_is_a_source_named_after_it_with_its_own_rows(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    write_workbook(book, [("Subscribed", SUBSCRIBED, False), ("Unsubscribed", UNSUBSCRIBED, False)])
    res = read_sources([book])
    assert [f.path for f in res.files] == [f"{book} [Subscribed]", f"{book} [Unsubscribed]"]
    assert [f.rows for f in res.files] == [2, 1] and res.rows_read == 3
    assert [f.header for f in res.files] == [("Email", "First Name"), ("EMAIL", "Reason")]
    assert [f.notes for f in res.files] == [(), ()]
    rows = res.frame.select("row_id", "source_file", "source_line", "Email", "EMAIL").rows()
    assert rows == [
        (0, f"{book} [Subscribed]", 2, "ann@example.com", None),
        (1, f"{book} [Subscribed]", 4, "bob@example.com", None),  # the sheet's row, blank row 3 kept out
        (2, f"{book} [Unsubscribed]", 4, None, "ANN@example.com"),  # that sheet's own row number
    ]


def test_a_hidden_sheet_is_read_and_an_empty_one_skipped_with_notes(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    sheets = [("Subscribed", SUBSCRIBED, False), ("Blank", [], False), ("Unsubscribed", UNSUBSCRIBED, True)]
    write_workbook(book, sheets)
    with zipfile.ZipFile(book) as zf:  # the writer really hid it, as Excel's "Hide" does
        assert 'name="Unsubscribed" sheetId="3" state="hidden"' in zf.read("xl/workbook.xml").decode()
    res = read_sources([book])
    assert [f.path for f in res.files] == [f"{book} [Subscribed]", f"{book} [Unsubscribed]"]
    assert res.files[0].notes == (f"{book} [Blank]: skipped, the sheet is empty (no header row)",)
    assert res.files[1].notes == (f"{book} [Unsubscribed]: a hidden sheet, read like the others",)
    assert res.rows_read == 3


def test_a_summary_sheet_is_skipped_but_a_sheet_of_rows_without_addresses_is_read(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    summary = [["Status", "Count"], ["Subscribed", 2]]
    phones = [["Name", "Phone"], ["Cy", "555-1"], ["Di", "555-2"], ["Ed", "555-3"]]
    write_workbook(
        book, [("Summary", summary, False), ("Subscribed", SUBSCRIBED, False), ("Phones", phones, False)]
    )
    res = read_sources([book])
    assert [f.path for f in res.files] == [f"{book} [Subscribed]", f"{book} [Phones]"]
    assert res.files[0].notes == (
        f"{book} [Summary]: skipped, 1 row(s) with no email column and no address in any cell: "
        "a summary or pivot sheet, not contacts",
    )
    assert res.rows_read == 5  # the three phone rows are read: validate rejects them, each with its reason


def test_a_lone_sheet_without_addresses_is_read_not_skipped(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    write_workbook(book, [("Sheet1", [["Name"], ["Cy"]], False)])
    res = read_sources([book])
    assert [f.path for f in res.files] == [f"{book} [Sheet1]"] and res.rows_read == 1


@pytest.mark.parametrize(("count", "why"), [(1, "the sheet is empty"), (2, "all 2 sheets are empty")])
def test_a_workbook_with_no_header_row_is_one_line(tmp_path: Path, count: int, why: str) -> None:
    book = tmp_path / "book.xlsx"
    write_workbook(book, [(f"Sheet{i}", [], False) for i in range(count)])
    with pytest.raises(InputError) as exc:
        read_sources([book])
    assert str(exc.value) == f"{book}: no header row: {why}"


def test_a_workbook_inside_a_zip_keeps_both_names(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    write_workbook(book, [("Subscribed", SUBSCRIBED, False), ("Unsubscribed", UNSUBSCRIBED, False)])
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(book, "lists/book.xlsx")
    res = read_sources([archive])
    assert [(f.path, f.kind) for f in res.files] == [
        (f"{archive}::lists/book.xlsx [Subscribed]", "zip-member"),
        (f"{archive}::lists/book.xlsx [Unsubscribed]", "zip-member"),
    ]
