"""CSV/TSV/TXT reader: polars does the parsing, a vectorised line scan does the bookkeeping.

Why two passes. polars' CSV reader is fast but cannot say on which physical line a record started, nor
tell a short row from a row whose last cells are empty. ``linescan`` first streams the file as *lines*
and works out, per record, its start line, its cell count and whether it is blank; then polars parses
the records proper with the header we decided on, and the two views are zipped by record index.
Wherever the two could disagree the file goes to the exact but slow ``slowcsv`` reader instead: an
unterminated quote, a quote in the middle of an unquoted cell, polars refusing the file, or a record
count mismatch.

Ragged policy: fewer cells than the header → reject, unless only trailing *unnamed* header columns are
missing (a header ending in a delimiter); more cells → reject, unless every extra cell is empty (a row
ending in a stray delimiter). Unnamed trailing columns that are empty on every row are dropped.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import InputError
from etl.extract import linescan, slowcsv
from etl.extract.encoding import head_encoding, scan_encoding, utf8_source
from etl.extract.linescan import Header, NotUtf8
from etl.extract.result import PART_REJECT_SCHEMA, REC, FileInfo, Part
from etl.model import SOURCE_LINE


def read_delimited(path: Path, label: str, workdir: Path, kind: str = "csv") -> Part:
    """Read one delimited text file into a ``Part`` (see ``etl.extract.result``)."""
    declared, bom_len = head_encoding(path, label)
    preferred = "\t" if path.suffix.lower() == ".tsv" else None
    scanned: tuple[Header, pl.DataFrame | None] | None = None
    if declared is not None and declared.startswith("utf-16"):
        encoding = declared
    else:
        try:  # polars validates UTF-8 while splitting lines: the common case costs no extra pass
            scanned = linescan.scan(path, label, preferred)
            encoding = "utf-8"
        except NotUtf8:
            encoding = scan_encoding(path, label, declared, bom_len)
    with utf8_source(path, workdir, label, encoding, bom_len) as src:
        if scanned is None:
            try:
                scanned = linescan.scan(src.path, label, preferred)
            except NotUtf8:
                raise InputError("cannot read the file as text", path=label) from None
        header, records = scanned
        info = FileInfo(
            path=label,
            encoding=src.encoding,
            delimiter=header.delimiter,
            kind=kind,
            rows=0,
            header=tuple(header.names),
            bom=src.bom,
        )
        part = None if records is None else _parse(src.path, header, records, info)
        if part is None:
            part = slowcsv.read(src.path, header, info)
    return _drop_unnamed_empty(part, header)


def _parse(path: Path, header: Header, scan: pl.DataFrame, info: FileInfo) -> Part | None:
    """polars parses the body; ``None`` when it disagrees with the scan (→ slow reader)."""
    uniform = scan.select(~pl.col("blank") & (pl.col("cells") == len(header.names))).to_series().all()
    # The ragged-row options cost polars ~30 %: only pay for them when the scan found short/long rows.
    ragged_opts: dict[str, Any] = (
        {}
        if uniform
        else {"truncate_ragged_lines": True, "extra_columns": "ignore", "missing_columns": "insert"}
    )
    try:
        data = pl.read_csv(
            path,
            has_header=False,
            skip_lines=header.end,
            separator=header.delimiter,
            quote_char='"',
            schema=dict.fromkeys(header.names, pl.String),
            raise_if_empty=False,
            **ragged_opts,
        )
    except pl.exceptions.PolarsError:
        return None
    if data.height != scan.height:
        return None
    return assemble(_quoted_empty_to_null(data), scan, header, info)


def _quoted_empty_to_null(data: pl.DataFrame) -> pl.DataFrame:
    """A quoted empty cell (``""``) is an empty cell too; rewrite only the columns that have one.

    Cheaper than ``null_values=[""]`` in the reader (which tests every cell's text): the length of a
    string view is known without touching its bytes.
    """
    if data.height == 0:
        return data
    # pl.nth, never pl.col(name): a header may be "*" or "^…$", which pl.col reads as a pattern
    has = data.select((pl.nth(i).str.len_bytes() == 0).any() for i in range(data.width)).row(0)
    fix = [i for i, h in enumerate(has) if h]
    if not fix:
        return data
    return data.with_columns(pl.when(pl.nth(i).str.len_bytes() > 0).then(pl.nth(i)) for i in fix)


def assemble(data: pl.DataFrame, scan: pl.DataFrame, header: Header, info: FileInfo) -> Part:
    """Zip parsed cells with the scan: drop blank lines, split ragged records off, number the rest.

    New columns are built with the parsed frame's chunk layout: adding a single-chunk column to a
    many-chunk string frame makes every later filter rechunk (copy) all strings — seconds per million rows.
    """
    n = len(header.names)
    blank = scan["blank"]
    if blank.any():
        data = data.filter(~blank)
        scan = scan.filter(~blank)
    scan = scan.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(REC))
    ok = scan["raw"].is_null()
    keep = scan.filter(ok)
    if not ok.all():
        data = data.filter(ok)
    lines = keep.select((pl.col("ln") + 1).cast(pl.Int64).alias(SOURCE_LINE), REC)
    like = data.to_series(0) if data.width else None
    frame = data.with_columns(*(aligned(s, like) for s in lines.iter_columns()))
    rejects = (
        scan.filter(~ok)
        .select(
            REC,
            (pl.col("ln") + 1).cast(pl.Int64).alias(SOURCE_LINE),
            pl.lit("ragged_row").alias("reason_code"),
            pl.format("line {}: {} cells, header has {}", pl.col("ln") + 1, pl.col("cells"), pl.lit(n)).alias(
                "reason"
            ),
            pl.col("raw"),
        )
        .cast(PART_REJECT_SCHEMA)
    )
    return Part(frame, rejects, replace(info, rows=scan.height))


def aligned(values: pl.Series, like: pl.Series | None) -> pl.Series:
    """``values`` re-sliced (zero-copy) into the same chunk lengths as ``like``."""
    if like is None or like.n_chunks() == 1:
        return values
    values = values.rechunk()  # slices of one chunk: a slice across two chunks would be two chunks
    parts, offset = [], 0
    for length in like.chunk_lengths():
        parts.append(values.slice(offset, length))
        offset += length
    return pl.concat(parts, rechunk=False)


def _drop_unnamed_empty(part: Part, header: Header) -> Part:
    """Drop trailing header columns that had no name and are empty on every row."""
    drop = []
    for raw, name in zip(reversed(header.raw), reversed(header.names), strict=True):
        if raw != "" or part.frame.get_column(name).null_count() != part.frame.height:
            break
        drop.append(name)
    if not drop:
        return part
    info = replace(part.info, header=tuple(nm for nm in part.info.header if nm not in drop))
    keep = [i for i, c in enumerate(part.frame.columns) if c not in drop]
    return Part(part.frame.select(pl.nth(keep)), part.rejects, info)
