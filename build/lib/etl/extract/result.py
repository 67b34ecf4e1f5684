"""What the extract stage hands to validate: one raw frame, structural rejects and per-file facts.

Contract of ``ExtractResult`` (validate relies on every line of it):

- ``frame``: every source column as ``pl.String`` (null = empty cell, quoted ``""`` included; values are
  *not* trimmed), plus ``row_id`` (Int64), ``source_file`` (String), ``source_line`` (Int64) first.
- ``rejects``: records that could not be split into the header's cells (``ragged_row``), an unterminated
  quote at the end of a file (``unclosed_quote``), JSON items that are not objects (``not_an_object``) and
  NDJSON lines that are not JSON (``invalid_json``). Columns: ``row_id``, ``source_file``,
  ``source_line``, ``reason_code``, ``reason``, ``raw`` (the record's original text, newlines inside
  quotes kept, line-end ``\\r`` dropped).
- ``row_id`` is unique across all sources and assigned in read order to every record, rejected or not,
  so ``rows_read == frame.height + rejects.height``. Blank lines are not records and get no id.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from etl.model import ROW_ID, SOURCE_FILE, SOURCE_LINE

# internal: 0-based record index inside one source, turned into row_id when sources combine; in the
# ``__bme_`` namespace no source column can have (extract/dialect.py)
REC = "__bme_rec"

REJECT_SCHEMA = pl.Schema(
    {
        ROW_ID: pl.Int64,
        SOURCE_FILE: pl.String,
        SOURCE_LINE: pl.Int64,
        "reason_code": pl.String,
        "reason": pl.String,
        "raw": pl.String,
    }
)
PART_REJECT_SCHEMA = pl.Schema(
    {REC: pl.Int64, SOURCE_LINE: pl.Int64, "reason_code": pl.String, "reason": pl.String, "raw": pl.String}
)


@dataclass(frozen=True)
class FileInfo:
    """What was found out about one source (a file, or one member of a ZIP/folder)."""

    path: str  # the source_file label: a path, or "<zip path>::<member name>"
    encoding: str  # utf-8, utf-16-le, utf-16-be, or the legacy code page read (cp1252, cp1250, cp932 …)
    delimiter: str | None  # None for JSON, NDJSON and XLSX
    kind: str  # "csv" | "json" | "ndjson" | "xlsx" | "zip-member"
    rows: int  # records read (kept + structurally rejected); blank lines not counted
    header: tuple[str, ...]  # column names after the naming contract (see etl.extract.dialect)
    bom: bool
    # (column name, header text in the file) for repeated headers the naming contract renamed
    renamed: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()  # warnings a command prints: an encoding that was detected, and how sure


@dataclass(frozen=True)
class ExtractResult:
    frame: pl.DataFrame
    rejects: pl.DataFrame
    files: tuple[FileInfo, ...]

    @property
    def rows_read(self) -> int:
        return self.frame.height + self.rejects.height


@dataclass(frozen=True)
class Part:
    """One source after reading, before row ids exist.

    ``frame`` holds the source columns plus ``source_line`` and ``REC``; ``rejects`` follows
    ``PART_REJECT_SCHEMA``. ``REC`` numbers the source's records 0..rows-1 in file order across both.
    """

    frame: pl.DataFrame
    rejects: pl.DataFrame
    info: FileInfo


def empty_part_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=PART_REJECT_SCHEMA)
