"""XLSX/XLS reader (polars + calamine): the first sheet, every cell as a string.

The first non-empty row is the header; empty rows are skipped (not records) but row numbers stay those
of the sheet, so ``source_line`` is the spreadsheet row a person sees — counted from the first row of the
sheet's used range, which is row 1 for every platform export we know. Numbers arrive as calamine renders
them (``10115``, ``4.5``); leading zeros survive only when the cell was text, as in Excel itself.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.errors import InputError
from etl.extract.dialect import column_names, renamed_headers
from etl.extract.result import REC, FileInfo, Part, empty_part_rejects
from etl.model import SOURCE_LINE


def read_excel(path: Path, label: str) -> Part:
    try:
        sheet = pl.read_excel(
            path,
            engine="calamine",
            sheet_id=1,
            has_header=False,
            infer_schema_length=0,
            drop_empty_rows=False,
            drop_empty_cols=False,
            raise_if_empty=False,
        )
    except Exception as exc:  # calamine/fastexcel raise their own types; all mean "cannot read"
        raise InputError(
            f"cannot read spreadsheet: {type(exc).__name__}: {str(exc).splitlines()[0]}", path=label
        ) from None
    sheet = sheet.cast(pl.String).with_row_index("_sheet_row", offset=1)
    cols = [c for c in sheet.columns if c != "_sheet_row"]
    nonempty = sheet.filter(pl.any_horizontal(pl.col(cols).is_not_null() & (pl.col(cols) != "")))
    if nonempty.height == 0:
        raise InputError("no header row: the sheet is empty", path=label)
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
