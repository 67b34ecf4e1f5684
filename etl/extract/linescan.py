"""The bookkeeping of the delimited reader: header, record starts, cell counts — streamed by block.

The file is read in blocks cut at a newline; each block is split into physical lines by polars (no
quoting, one string per line, ``\\r`` of CRLF dropped; this also validates UTF-8). Per block, with
polars string expressions only:

- quote parity (cumulative ``"`` count) marks the lines that start a record, so record start lines are
  exact with quoted newlines and blank lines. A record still open at the end of a block is carried,
  as bytes, into the next block, so every block starts at a record start;
- polars parses the block's records (``parse_cells``); a record's cell count is its delimiter count + 1
  less the delimiters inside its parsed values — literal counts, no regex per line.

A block (``Block``) carries its records' facts (start line, cell count, blank flag, the text of records
that will be rejected), its bytes and polars' parse, so memory holds one block at a time.
``records=None`` means "the parity view cannot be trusted from here" (unterminated quote, a quote in the
middle of an unquoted cell, polars disagreeing): the caller reads the rest with the exact stdlib reader.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import InputError
from etl.extract.dialect import column_names, sniff_delimiter, split_record

BLOCK = 16 << 20  # 4 MiB costs ~20 % more time at a million rows (per-block overhead), for ~40 MiB less
MAX_CARRY = 16 << 20  # a "record" longer than this is an unterminated quote, not a contact
SAMPLE_LINES = 50
REGEX_ESCAPES = {"\t": "\\t", "|": "\\|"}  # delimiter → its spelling inside a Rust regex
PRE_SCHEMA = pl.Schema({"i": pl.UInt32, "ln": pl.Int64, "t": pl.String, "q": pl.Int64, "p": pl.Int64})
RECORD_SCHEMA = pl.Schema({"ln": pl.Int64, "cells": pl.Int64, "blank": pl.Boolean, "raw": pl.String})


class NotUtf8(Exception):
    """polars refused a block: the bytes are not valid UTF-8 (the caller decides what they are)."""


@dataclass(frozen=True)
class Header:
    names: list[str]
    raw: list[str]
    delimiter: str
    end: int  # physical lines up to and including the header (leading blank lines included)
    line: int  # 1-based physical line of the header

    @property
    def trailing_unnamed(self) -> int:
        n = 0
        for cell in reversed(self.raw):
            if cell != "":
                break
            n += 1
        return n


@dataclass(frozen=True)
class Block:
    """One block of a streamed file: its records and exactly the bytes they span.

    ``records`` follows ``RECORD_SCHEMA`` (``ln`` 0-based); ``None`` means the parity view cannot be
    trusted from ``offset`` on (the caller reads the rest of the file with the exact reader). ``data``
    never includes header lines nor a record left open at the block's end (that one opens the next block).
    """

    records: pl.DataFrame | None
    data: bytes
    offset: int  # byte offset of ``data`` in the file: always a record start
    line0: int  # 0-based physical line where ``data`` starts
    cells: pl.DataFrame | None = None  # polars' parse of ``data``, one row per record (blank ones too)


def stream(
    path: Path, label: str, preferred: str | None, block: int = BLOCK
) -> tuple[Header, Generator[Block, None, None]]:
    """The header, and the file's blocks one by one (memory: one block at a time).

    Raises ``NotUtf8`` when polars cannot decode a block, ``InputError`` for NUL bytes or no header (the
    header is found before this returns; later blocks raise while iterating).
    """
    blocks = _blocks(path, label, preferred, block)
    header = next(blocks)
    assert isinstance(header, Header)
    return header, blocks  # type: ignore[return-value]  # every later item is a Block


def scan(
    path: Path, label: str, preferred: str | None, block: int = BLOCK
) -> tuple[Header, pl.DataFrame | None]:
    """Header and per-record facts of a whole UTF-8 file (``stream`` collected); ``None`` when untrusted."""
    header, blocks = stream(path, label, preferred, block)
    parts = []
    for b in blocks:
        if b.records is None:
            return header, None
        parts.append(b.records)
    return header, pl.concat(parts) if parts else pl.DataFrame(schema=RECORD_SCHEMA)


def _blocks(
    path: Path, label: str, preferred: str | None, block: int
) -> Generator[Header | Block, None, None]:
    """Yield the header first, then every ``Block``; an untrusted block is the last one."""
    header: Header | None = None
    line0, carry, base = 0, b"", 0  # base: file offset of ``carry`` (= where the next body starts)
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(block)
            data, offset = carry + chunk, base
            if chunk:
                cut = data.rfind(b"\n") + 1
                body, carry = data[:cut], data[cut:]
            else:
                body, carry = data, b""
            base = offset + len(body)
            if body:
                lines = _lines(body)
                _refuse_nul(lines, label, line0)
                skip = 0
                if header is None:
                    header = find_header(lines["t"], label, preferred, line0)
                    if header is None:
                        line0 += lines.height
                        continue
                    yield header
                    skip = header.end - line0
                start = _nth_line_start(body, skip)
                pre, open_at = scan_block(lines, header, line0 + skip, skip)
                end, used = len(body), lines.height
                if open_at is not None:  # carry the open record's bytes into the next block
                    end, used = _line_start(body, lines.height, open_at), open_at
                cells = None if pre is None else parse_cells(body[start:end], header, pre.height)
                if pre is None or cells is None:
                    yield Block(None, b"", offset + start, line0 + skip)
                    return
                if open_at is not None:
                    carry, base = body[end:] + carry, offset + end
                recs = _cells(pre, header, cells)
                yield Block(recs, body[start:end], offset + start, line0 + skip, cells)
                line0 += used
                if len(carry) > MAX_CARRY:
                    yield Block(None, b"", base, line0)
                    return
            if not chunk:
                break
    if header is None:
        raise InputError("no header row: the file has only blank lines", path=label)
    if carry:
        yield Block(None, b"", base, line0)


def _nth_line_start(body: bytes, k: int) -> int:
    """Byte offset where line ``k`` (0-based) of ``body`` starts (its end when it has fewer lines)."""
    pos = 0
    for _ in range(k):
        nl = body.find(b"\n", pos)
        if nl < 0:
            return len(body)
        pos = nl + 1
    return pos


def _lines(body: bytes) -> pl.DataFrame:
    """Physical lines as strings plus ``z``: the text after a NUL byte, if a line has one."""
    try:
        return pl.read_csv(
            body,
            has_header=False,
            separator="\x00",
            quote_char=None,
            schema={"t": pl.String, "z": pl.String},
            truncate_ragged_lines=True,
            extra_columns="ignore",
            missing_columns="insert",
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError:
        raise NotUtf8 from None


def _refuse_nul(lines: pl.DataFrame, label: str, line0: int) -> None:
    hits = lines.with_row_index("i").filter(pl.col("z") != "").head(1)
    if hits.height:
        raise InputError(
            "binary file: NUL byte inside a line, not a text export",
            path=label,
            line=line0 + int(hits["i"][0]) + 1,
        )


def _line_start(body: bytes, count: int, index: int) -> int:
    """Byte offset where line ``index`` of the ``count`` newline-terminated lines in ``body`` starts."""
    pos = len(body) - 1 if body.endswith(b"\n") else len(body)
    for _ in range(count - index):
        pos = body.rfind(b"\n", 0, pos)
    return pos + 1


def find_header(t: pl.Series, label: str, preferred: str | None, line0: int = 0) -> Header | None:
    """The first non-blank line (joined with following lines while a quote is open) and the dialect."""
    first = None
    for i, value in enumerate(t):
        if value.removeprefix("\ufeff").strip() != "":
            first = i
            break
    if first is None:
        return None
    text, end = t[first].removeprefix("\ufeff"), first + 1
    while text.count('"') % 2 and end < len(t):  # a quoted newline inside the header
        text += "\n" + t[end]
        end += 1
    sample = []
    for value in t.slice(end, SAMPLE_LINES * 2):
        if value.strip() and value.count('"') % 2 == 0:
            sample.append(value)
        if len(sample) >= SAMPLE_LINES:
            break
    delimiter = sniff_delimiter(text, sample, preferred)
    raw = split_record(text, delimiter)
    return Header(column_names(raw), raw, delimiter, line0 + end, line0 + first + 1)


def scan_block(
    lines: pl.DataFrame, header: Header, ln0: int, skip: int
) -> tuple[pl.DataFrame | None, int | None]:
    """Records of one block that starts at a record start (``PRE_SCHEMA``: record index, start line,
    text, quote and delimiter counts; ``_cells`` finishes them once polars has parsed the block), and
    the index of a record left open, if any. ``None`` when the parity view cannot be trusted.

    Expressions run on the subsets that need them (lines with quotes, lines without a delimiter) and
    are scattered back: a ``when/then`` would evaluate the expensive branch on every line.
    """
    d = header.delimiter
    body = lines.select("t").slice(skip).with_row_index("ln", offset=ln0)
    if body.height == 0:
        return pl.DataFrame(schema=PRE_SCHEMA), None
    body = body.with_columns(  # one call: polars evaluates the two counts in parallel
        q=pl.col("t").str.count_matches('"', literal=True).cast(pl.Int64),
        p=pl.col("t").str.count_matches(d, literal=True).cast(pl.Int64),
    )
    total_q = body["q"].sum()
    open_at = None
    esc = REGEX_ESCAPES.get(d, d)
    if total_q:
        body = body.with_columns(start=((pl.col("q").cum_sum() - pl.col("q")) % 2 == 0))
        if total_q % 2:
            last = body.with_row_index("k").filter(pl.col("start"))["k"][-1]
            open_at = skip + int(last)
            body = body.slice(0, int(last))
        # Only lines that change or continue the quote state can make the parity view and polars disagree.
        risky = body.filter((pl.col("q") % 2 == 1) | ~pl.col("start"))
        if risky.select(pl.col("t").str.contains(f'[^{esc}"]"[^{esc}"]').any()).item():
            return None, None
        if risky.filter(~pl.col("start")).select(pl.col("t").str.contains(f'^"[^{esc}"]').any()).item():
            return None, None
    if total_q and not body["start"].all():
        body = body.with_columns(rec=pl.col("start").cast(pl.Int64).cum_sum() - 1)
        cont_recs = body.filter(~pl.col("start"))["rec"].unique()
        multi = (
            body.filter(pl.col("rec").is_in(cont_recs.implode()))
            .group_by("rec", maintain_order=True)
            .agg(pl.col("t").str.join("\n"), pl.col("p").sum())
        )
        recs = body.filter(pl.col("start")).select("ln", "t", "q", "p")
        t, plain = recs["t"].clone(), recs["p"].clone()
        t.scatter(multi["rec"], multi["t"])
        plain.scatter(multi["rec"], multi["p"])
        recs = recs.with_columns(t=t, p=plain)
    else:
        recs = body.select("ln", "t", "q", "p")
    del body
    return recs.with_row_index("i"), open_at


def parse_cells(data: bytes, header: Header, records: int) -> pl.DataFrame | None:
    """polars' parse of a block's records (every column a string), or ``None`` when polars refuses the
    block or sees another number of records than the line scan (→ the exact reader decides)."""
    opts: dict[str, Any] = {}
    for ragged in (False, True):
        if ragged:  # the ragged-row options cost polars ~30 %: only when the plain parse refused
            opts = {"truncate_ragged_lines": True, "extra_columns": "ignore", "missing_columns": "insert"}
        try:
            cells = pl.read_csv(
                data,
                has_header=False,
                separator=header.delimiter,
                quote_char='"',
                schema=dict.fromkeys(header.names, pl.String),
                raise_if_empty=False,
                **opts,
            )
        except pl.exceptions.PolarsError:
            continue
        return cells if cells.height == records else None
    return None


def _cells(recs: pl.DataFrame, header: Header, parsed: pl.DataFrame) -> pl.DataFrame:
    """Per record: cell count, blank flag, and the text of records that will be rejected as ragged.

    A record's cells are its delimiters + 1, less the delimiters inside its parsed values (a quoted
    delimiter, e.g. Mailchimp TAGS ``"VIP","Blog"``, is the only kind a value can hold): literal counts,
    no regex. Where polars cut a long row short the count may miss-count a quoted delimiter of an extra
    cell; long rows are re-split exactly below.
    """
    d = header.delimiter
    n = len(header.names)
    cells = recs["p"] + 1
    if recs.height and recs["q"].sum():
        inside = parsed.select(
            pl.sum_horizontal(pl.nth(i).str.count_matches(d, literal=True).fill_null(0) for i in range(n))
        ).to_series()
        cells = cells - inside.cast(pl.Int64)
    recs = recs.with_columns(cells=cells)
    # a whitespace-only line is blank, not a record; with a tab delimiter that includes "\t\t" (3 cells)
    maybe_blank = pl.col("q") == 0
    if not d.isspace():
        maybe_blank = maybe_blank & (pl.col("cells") == 1)
    few = recs.filter(maybe_blank)
    blank = pl.repeat(False, recs.height, dtype=pl.Boolean, eager=True)
    blank.scatter(few.filter(pl.col("t").str.strip_chars() == "")["i"], True)
    recs = recs.with_columns(blank=blank)
    too_few = pl.col("cells") < n - header.trailing_unnamed
    too_many = pl.col("cells") > n
    ragged = recs.filter(~pl.col("blank") & too_few)
    long = recs.filter(~pl.col("blank") & too_many).select("i", "t")
    if long.height:  # rare: Python's exact splitter decides whether the extra cells are all empty
        split = {i: split_record(t, d) for i, t in long.iter_rows()}
        exact = recs["cells"].clone()
        exact.scatter(list(split), [len(c) for c in split.values()])
        recs = recs.with_columns(cells=exact)
        extra = [i for i, c in split.items() if any(x != "" for x in c[n:])]
        ragged = pl.concat([ragged, recs.filter(pl.col("i").is_in(extra))]).sort("i")
    raw = pl.repeat(None, recs.height, dtype=pl.String, eager=True).alias("raw")
    if ragged.height:
        raw.scatter(ragged["i"], ragged["t"])
    return recs.select(pl.col("ln").cast(pl.Int64), "cells", "blank").with_columns(raw)
