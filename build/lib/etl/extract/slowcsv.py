"""The exact reader for files the fast path cannot vouch for (malformed quoting, unterminated quotes).

Python's ``csv`` module in non-strict mode over a line iterator that remembers what each record consumed,
so ``raw`` and ``source_line`` are exact by construction. It is O(rows) in Python, so it is only used
when ``delimited`` detects a file it cannot zip safely; correctness beats speed there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from etl.extract.dialect import csv_reader
from etl.extract.result import PART_REJECT_SCHEMA, REC, FileInfo, Part
from etl.model import SOURCE_LINE

if TYPE_CHECKING:
    from etl.extract.linescan import Header


class _Lines:
    """Iterate the file's lines for ``csv.reader`` while recording the text and lines since ``take()``."""

    def __init__(self, fh: Iterator[str], line: int) -> None:
        self._fh = fh
        self.line = line  # physical lines consumed so far (== 1-based number of the last one)
        self._buf: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = next(self._fh)
        self._buf.append(text)
        self.line += text.count("\n")
        return text

    def take(self) -> str:
        raw = "".join(self._buf)
        self._buf.clear()
        return raw


def read(
    path: Path, header: Header, info: FileInfo, *, offset: int | None = None, line0: int = 0, rec0: int = 0
) -> Part:
    """Read the records after ``header`` with the stdlib parser; same ``Part`` contract as the fast path.

    With ``offset`` (a record start, at 0-based physical line ``line0``) reading starts there instead,
    and records are numbered from ``rec0``: the streaming reader hands over the rest of a file this way.
    ``info.rows`` of the result counts the records read here.
    """
    n = len(header.names)
    d = header.delimiter
    columns: list[list[str | None]] = [[] for _ in range(n)]
    lines_kept: list[int] = []
    recs_kept: list[int] = []
    rejects: list[tuple[int, int, str, str, str]] = []
    opener = re.compile(rf'(?:^|{re.escape(d)})"(?:[^"]|"")*$')
    with path.open("rb") as raw_fh, io.TextIOWrapper(raw_fh, encoding="utf-8", newline="") as fh:
        if offset is None:
            skipped = 0
            while skipped < header.end and (text := fh.readline()):
                skipped += text.count("\n")
            line0 = header.end
        else:
            raw_fh.seek(offset)
        src = _Lines(fh, line0)
        reader = csv_reader(src, d)
        rec = rec0
        pending: tuple[int, list[str], str] | None = None
        start = line0 + 1
        for cells in reader:
            raw = src.take().rstrip("\r\n").replace("\r\n", "\n")
            line, start = start, src.line + 1
            if raw.strip() == "":  # blank or whitespace-only line (a quoted "" is a record)
                continue
            if pending is not None:
                _emit(pending, n, header, columns, lines_kept, recs_kept, rejects, rec)
                rec += 1
            pending = (line, cells, raw)
        if pending is not None:
            line, cells, raw = pending
            if raw.count('"') % 2 and opener.search(raw):
                span = raw.count("\n") + 1
                rejects.append(
                    (
                        rec,
                        line,
                        "unclosed_quote",
                        f"line {line}: a quoted cell opened on this line is never closed; the "
                        f"remaining {span} line(s) of the file were read as one record",
                        raw,
                    )
                )
            else:
                _emit(pending, n, header, columns, lines_kept, recs_kept, rejects, rec)
            rec += 1
    frame = pl.DataFrame(
        {name: pl.Series(name, col, dtype=pl.String) for name, col in zip(header.names, columns, strict=True)}
    )
    frame = frame.with_columns(
        pl.Series(SOURCE_LINE, lines_kept, dtype=pl.Int64), pl.Series(REC, recs_kept, dtype=pl.Int64)
    )
    rej = pl.DataFrame(rejects, schema=PART_REJECT_SCHEMA, orient="row")
    return Part(frame, rej, replace(info, rows=rec - rec0))


def _emit(
    pending: tuple[int, list[str], str],
    n: int,
    header: Header,
    columns: list[list[str | None]],
    lines_kept: list[int],
    recs_kept: list[int],
    rejects: list[tuple[int, int, str, str, str]],
    rec: int,
) -> None:
    line, cells, raw = pending
    count = len(cells)
    ragged = count < n - header.trailing_unnamed or (count > n and any(c != "" for c in cells[n:]))
    if ragged:
        rejects.append((rec, line, "ragged_row", f"line {line}: {count} cells, header has {n}", raw))
        return
    for i in range(n):
        value = cells[i] if i < count else ""
        columns[i].append(value if value != "" else None)
    lines_kept.append(line)
    recs_kept.append(rec)
