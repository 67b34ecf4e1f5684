"""XLSX/XLS reader (fastexcel, the calamine reader polars uses): every sheet, every cell as a string.

A workbook is read sheet by sheet, each sheet a source of its own labelled ``book.xlsx [Sheet name]``
(``etl.sheets``): people compile exports by hand in Excel, and a workbook with a "Subscribed" and an
"Unsubscribed" sheet must not lose the opted-out people by reading only the first one. Hidden sheets are
read too (a hidden "Unsubscribed" sheet still holds opt-outs), with a note that they were hidden. A sheet
with no header row is skipped with a note. A sheet that is clearly not contacts — at most two data rows,
no header naming an email and no ``@`` in any cell, in a workbook where another sheet has addresses (a
pivot or summary sheet) — is skipped with a note; any other sheet is read, and validate rejects the rows
that have no address, each with its reason, so every row is accounted for.

In each sheet the first non-empty row is the header; empty rows are skipped (not records) but row numbers
stay those of the sheet, so ``source_line`` is the spreadsheet row a person sees in that sheet, empty rows
above the header included. Numbers
arrive as calamine renders them (``10115``, ``4.5``); leading zeros survive only when the cell was text,
as in Excel itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import fastexcel
import polars as pl

from etl.errors import InputError
from etl.extract.dialect import column_names, renamed_headers
from etl.extract.result import REC, FileInfo, Part, empty_part_rejects
from etl.model import SOURCE_LINE
from etl.sheets import sheet_label
from etl.terminal import printable

SUMMARY_ROWS = 2  # a sheet with more data rows than this is read even with no address in it


@dataclass(frozen=True)
class _Sheet:
    """One worksheet as loaded: its name, whether Excel shows it, and its cells (strings, no header)."""

    name: str
    hidden: bool
    cells: pl.DataFrame


def read_workbook(path: Path, label: str) -> list[Part]:
    """Every sheet worth reading, in workbook order, one ``Part`` each labelled ``label [sheet]``; what was
    skipped or hidden is said in the first part's notes. ``InputError`` when no sheet has a header row."""
    parts: list[Part] = []
    notes: list[str] = []
    sheets = _load(path, label)
    for sheet in sheets:
        name = sheet_label(label, printable(sheet.name))
        part = _sheet_part(sheet.cells, name)
        if part is None:
            notes.append(f"{name}: skipped, the sheet is empty (no header row)")
            continue
        if sheet.hidden:
            part = _noted(part, f"{name}: a hidden sheet, read like the others")
        parts.append(part)
    if any(_has_addresses(p) for p in parts):
        kept = []
        for part in parts:
            if part.info.rows <= SUMMARY_ROWS and not _has_addresses(part):
                notes.append(
                    f"{part.info.path}: skipped, {part.info.rows} row(s) with no email column and no "
                    "address in any cell: a summary or pivot sheet, not contacts"
                )
            else:
                kept.append(part)
        parts = kept
    if not parts:
        why = "the sheet is empty" if len(sheets) <= 1 else f"all {len(sheets)} sheets are empty"
        raise InputError(f"no header row: {why}", path=label)
    if notes:
        first = parts[0]
        parts[0] = Part(first.frame, first.rejects, replace(first.info, notes=(*notes, *first.info.notes)))
    return parts


def _load(path: Path, label: str) -> list[_Sheet]:
    """Every worksheet's cells as strings (calamine's rendering), with its name and visibility."""
    try:
        reader = fastexcel.read_excel(path)
        sheets = []
        for idx, name in enumerate(reader.sheet_names):
            # skip_rows=0: the empty rows above the first cell are kept (as nulls), so a record's row
            # number is the spreadsheet row even when the sheet starts lower (a title row deleted)
            ws = reader.load_sheet(idx, header_row=None, dtypes="string", skip_rows=0)
            cells = ws.to_polars()
            cells.columns = [f"column_{i}" for i in range(cells.width)]
            sheets.append(_Sheet(name, ws.visible != "visible", cells))
    except Exception as exc:  # calamine/fastexcel raise their own types; all mean "cannot read"
        raise InputError(
            f"cannot read spreadsheet: {type(exc).__name__}: {str(exc).splitlines()[0]}", path=label
        ) from None
    return sheets


def _sheet_part(cells: pl.DataFrame, label: str) -> Part | None:
    """One sheet as a source: its first non-empty row the header, the rest records; ``None`` if empty."""
    sheet = cells.cast(pl.String).with_row_index("_sheet_row", offset=1)
    cols = [c for c in sheet.columns if c != "_sheet_row"]
    if not cols:
        return None
    nonempty = sheet.filter(pl.any_horizontal(pl.col(cols).is_not_null() & (pl.col(cols) != "")))
    if nonempty.height == 0:
        return None
    raw = ["" if v is None else str(v) for v in nonempty.row(0)[1:]]
    names = column_names(raw)
    body = nonempty.slice(1)
    frame = body.select(
        *[pl.col(c).replace("", None).alias(n) for c, n in zip(cols, names, strict=True)],
        pl.col("_sheet_row").cast(pl.Int64).alias(SOURCE_LINE),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(REC),
    )
    while raw and raw[-1] == "" and frame.get_column(names[-1]).null_count() == frame.height:
        names.pop()  # spreadsheets pad the used range with unnamed empty columns
        frame = frame.select(pl.nth(list(range(len(names)))), SOURCE_LINE, REC)
        raw.pop()
    info = FileInfo(
        path=label,
        encoding="xlsx",
        delimiter=None,
        kind="xlsx",
        rows=frame.height,
        header=tuple(names),
        bom=False,
        renamed=renamed_headers(names, raw),
    )
    return Part(frame, empty_part_rejects(), info)


def _has_addresses(part: Part) -> bool:
    """A header that names an email, or an ``@`` in any cell: the sheet may hold contacts."""
    if any("mail" in h.casefold() for h in part.info.header):
        return True
    # pl.nth, never names: a header may be "*" or "^…$", which polars reads as a pattern
    cells = [i for i, c in enumerate(part.frame.columns) if c not in (SOURCE_LINE, REC)]
    if not cells or part.frame.height == 0:
        return False
    found = part.frame.select(pl.any_horizontal(pl.nth(cells).str.contains("@", literal=True)).any())
    return bool(found.item())


def _noted(part: Part, note: str) -> Part:
    return Part(part.frame, part.rejects, replace(part.info, notes=(*part.info.notes, note)))
