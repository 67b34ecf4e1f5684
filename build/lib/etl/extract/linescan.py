"""The bookkeeping of the delimited reader: header, record starts, cell counts — streamed by block.

The file is read in blocks cut at a newline; each block is split into physical lines by polars (no
quoting, one string per line, ``\\r`` of CRLF dropped; this also validates UTF-8), and polars parses
the block's records. What polars cannot say — on which line a record starts, and whether a row had
fewer cells than the header (it pads those with nulls) — is settled per block, with polars string
expressions only and as little counting as the block allows:

- record starts: when polars finds one record per line, record ``i`` is line ``i`` (a record spanning
  lines would have made one fewer). Otherwise quote parity (cumulative ``"`` count) marks the lines that
  start a record, exact with quoted newlines and blank lines. A record still open at the end of a block
  is carried, as bytes, into the next block, so every block starts at a record start;
- cell counts (``_records``): polars refuses a row with more cells than the header, so only rows whose
  last cell is null can be short, and of those only rows whose line does not end in as many delimiters
  as they have trailing null cells are counted: delimiters + 1, less the delimiters inside their parsed
  values. A block polars refuses is reparsed with its ragged-row options and every record is counted.

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
    """One block of a streamed file: its records and polars' parse of them.

    ``records`` follows ``RECORD_SCHEMA`` (``ln`` 0-based); ``None`` means the parity view cannot be
    trusted from ``offset`` on (the caller reads the rest of the file with the exact reader). A block
    never includes header lines nor a record left open at its end (that one opens the next block).
    """

    records: pl.DataFrame | None
    offset: int  # byte offset in the file where the block's records start: always a record start
    line0: int  # 0-based physical line where the block's records start
    cells: pl.DataFrame | None = None  # polars' parse of the records, one row per record (blank ones too)


def stream(
    path: Path, label: str, preferred: str | None, block: int = BLOCK, *, delimiter: str | None = None
) -> tuple[Header, Generator[Block, None, None]]:
    """The header, and the file's blocks one by one (memory: one block at a time). ``delimiter`` (from
    ``--delimiter``) replaces sniffing.

    Raises ``NotUtf8`` when polars cannot decode a block, ``InputError`` for NUL bytes or no header (the
    header is found before this returns; later blocks raise while iterating).
    """
    blocks = _blocks(path, label, preferred, block, delimiter)
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
    path: Path, label: str, preferred: str | None, block: int, delimiter: str | None = None
) -> Generator[Header | Block, None, None]:
    """Yield the header first, then every ``Block``; an untrusted block is the last one."""
    header: Header | None = None
    line0, carry, base = 0, b"", 0  # base: file offset of ``carry`` (= where the next body starts)
    # The file is read into one reused buffer, and each block's complete lines copied out of it once: a
    # fresh 16 MiB object costs ~4,000 page faults, and reading, joining the carry and cutting at the last
    # newline made three of them a block (a quarter of extract's time at a million rows).
    buf = bytearray(block)
    view = memoryview(buf)
    with path.open("rb") as fh:
        while True:
            got = fh.readinto(view)
            offset = base
            if got:
                cut = buf.rfind(b"\n", 0, got) + 1
                body = carry + view[:cut] if cut else b""
                carry = bytes(view[cut:got]) if cut else carry + view[:got]
            else:
                body, carry = carry, b""
            base = offset + len(body)
            if body:
                lines = _lines(body)
                _refuse_nul(lines, label, line0)
                skip = 0
                if header is None:
                    header = find_header(lines["t"], label, preferred, line0, delimiter)
                    if header is None:
                        line0 += lines.height
                        continue
                    yield header
                    skip = header.end - line0
                start = _nth_line_start(body, skip)
                recs, cells, end, used = _split(body, lines, header, start, skip, line0 + skip)
                if recs is None:  # the parity view cannot be trusted: the exact reader decides
                    yield Block(None, offset + start, line0 + skip)
                    return
                if end < len(body):  # carry the open record's bytes into the next block
                    carry, base = body[end:] + carry, offset + end
                yield Block(recs, offset + start, line0 + skip, cells)
                line0 += used
                if len(carry) > MAX_CARRY:
                    yield Block(None, base, line0)
                    return
            if not got:
                break
    if header is None:
        raise InputError("no header row: the file has only blank lines", path=label)
    if carry:
        yield Block(None, base, line0)


def _split(
    body: bytes, lines: pl.DataFrame, header: Header, start: int, skip: int, ln0: int
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, int, int]:
    """The records (``RECORD_SCHEMA``) and polars' parse of ``body[start:end]``, plus ``end`` and the
    number of ``lines`` used: the block's complete records end there (a record left open starts there).
    ``None`` records: the parity view cannot be trusted. ``start`` is where line ``skip`` starts."""
    plain = _parse(body[start:], header, ragged=False)
    if plain is not None and plain.height == lines.height - skip:
        # one record per line: any record spanning lines would have made one fewer (polars reads a blank
        # line as a record of null cells), so no quote needs counting
        starts, open_at = pl.int_range(plain.height, dtype=pl.UInt32, eager=True), None
    else:
        found, open_at = _parity(lines, header, skip)
        if found is None:
            return None, None, start, skip
        starts = found
    end, used = len(body), lines.height
    if open_at is not None:
        end, used = _line_start(body, lines.height, open_at), open_at
        plain = _parse(body[start:end], header, ragged=False)
    t = lines.get_column("t").slice(skip, used - skip)
    if plain is not None and plain.height == starts.len():
        # the common case: polars parsed every record without complaint, so none has more cells than the
        # header and only a few need counting
        return _records(plain, t, header, ln0, starts), plain, end, used
    # polars refused the block (rows longer than the header?), or saw other records than parity: count
    # every record's cells, from the ragged-row parse
    pre = _counts(t, starts, _ends(starts, t.len()), header, ln0)
    cells = plain if plain is not None else _parse(body[start:end], header, ragged=True)
    if cells is None or cells.height != pre.height:
        return None, None, end, used
    return _cells(pre, header, cells), cells, end, used


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


def find_header(
    t: pl.Series, label: str, preferred: str | None, line0: int = 0, delimiter: str | None = None
) -> Header | None:
    """The first non-blank line (joined with following lines while a quote is open) and the dialect
    (``delimiter`` when given, else sniffed)."""
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
    if delimiter is not None:
        raw = split_record(text, delimiter)
        return Header(column_names(raw), raw, delimiter, line0 + end, line0 + first + 1)
    sample = []
    for value in t.slice(end, SAMPLE_LINES * 2):
        if value.strip() and value.count('"') % 2 == 0:
            sample.append(value)
        if len(sample) >= SAMPLE_LINES:
            break
    delimiter = sniff_delimiter(text, sample, preferred)
    raw = split_record(text, delimiter)
    return Header(column_names(raw), raw, delimiter, line0 + end, line0 + first + 1)


def _parity(lines: pl.DataFrame, header: Header, skip: int) -> tuple[pl.Series | None, int | None]:
    """Where the block's records start (indices of lines after ``skip``, by quote parity: exact with
    quoted newlines and blank lines), and the index in ``lines`` of a record left open at the block's
    end, if any. ``None`` starts: the parity view cannot be trusted (the exact reader decides).
    """
    t = lines.get_column("t").slice(skip)
    q = t.str.count_matches('"', literal=True)
    total_q = q.sum()
    if not total_q:
        return pl.int_range(t.len(), dtype=pl.UInt32, eager=True), None
    body = pl.DataFrame({"t": t, "q": q}).with_columns(start=((pl.col("q").cum_sum() - pl.col("q")) % 2 == 0))
    open_at = None
    if total_q % 2:
        last = int(body.get_column("start").arg_true()[-1])
        open_at = skip + last
        body = body.slice(0, last)
    # Only lines that change or continue the quote state can make the parity view and polars disagree
    # with the exact reader; each must have the shape a well-formed record gives it, else the exact
    # reader decides. A quote inside an unquoted cell (``a"b``, ``x;"`` at a line's end) fails them.
    esc = REGEX_ESCAPES.get(header.delimiter, header.delimiter)
    risky = body.filter((pl.col("q") % 2 == 1) | ~pl.col("start"))
    inside = '(?:[^"]|"")*'  # within a quoted cell: anything, quotes doubled
    whole = f'(?:"{inside}"|[^"{esc}]*)'  # a complete cell: quoted, or unquoted without a quote
    opens = f'^(?:{whole}{esc})*"{inside}$'  # a record's first line: cells, then one left open
    closes = f'^{inside}"(?:{esc}{whole})*$'  # closes the open cell; complete cells follow
    stays = f'^{inside}$|^{inside}"(?:{esc}{whole})*{esc}"{inside}$'  # still inside, or closes and reopens
    odd, line, first = pl.col("q") % 2 == 1, pl.col("t"), pl.col("start")
    bad = risky.select(
        (first & ~line.str.contains(opens)).any().alias("opens"),
        (~first & odd & ~line.str.contains(closes)).any().alias("closes"),
        (~first & ~odd & ~line.str.contains(stays)).any().alias("stays"),
    ).row(0)
    if any(bad):
        return None, None
    return body.get_column("start").arg_true(), open_at


def _ends(starts: pl.Series, lines: int) -> pl.Series:
    """Each record's last line, given the records' first lines and the number of lines they span."""
    return (starts.shift(-1, fill_value=lines) - 1).cast(pl.UInt32)


def _counts(t: pl.Series, starts: pl.Series, ends: pl.Series, header: Header, ln0: int) -> pl.DataFrame:
    """Record index ``i``, start line ``ln``, text ``t``, quote count ``q`` and delimiter count ``p`` of the
    records spanning lines ``starts``..``ends`` of ``t`` (a record's lines joined by ``\n``, as the exact
    reader sees them): what ``_cells`` counts cells from."""
    text = t.gather(starts)
    multi = (ends > starts).arg_true()
    if multi.len():
        spans = (
            pl.DataFrame({"r": multi, "a": starts.gather(multi), "b": ends.gather(multi)})
            .select("r", line=pl.int_ranges("a", pl.col("b") + 1, dtype=pl.UInt32))
            .explode("line")
        )
        joined = (
            spans.with_columns(t=t.gather(spans.get_column("line")))
            .group_by("r", maintain_order=True)
            .agg(pl.col("t").str.join("\n"))
        )
        text.scatter(joined.get_column("r"), joined.get_column("t"))
    return pl.DataFrame({"ln": starts.cast(pl.Int64) + ln0, "t": text}).select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"),
        "ln",
        "t",
        q=pl.col("t").str.count_matches('"', literal=True).cast(pl.Int64),
        p=pl.col("t").str.count_matches(header.delimiter, literal=True).cast(pl.Int64),
    )


def _records(cells: pl.DataFrame, t: pl.Series, header: Header, ln0: int, starts: pl.Series) -> pl.DataFrame:
    """The block's records (``RECORD_SCHEMA``) from polars' complaint-free parse ``cells``, the lines
    ``t`` they span and their first lines ``starts``, counting only the cells of the rows that need it.

    A row whose last cell is filled has all ``n`` cells: polars refuses a row with more cells than the
    header. A row whose last ``k`` cells are null (an unquoted empty cell is the only null one; a missing
    cell too) has all ``n`` when its last line ends in exactly ``k`` delimiters. The other rows (short,
    blank, whitespace) are counted by ``_cells`` as on the exact path.
    """
    n = len(header.names)
    ends = _ends(starts, t.len())
    full = pl.repeat(n, cells.height, dtype=pl.Int64, eager=True).alias("cells")
    blank = pl.repeat(False, cells.height, dtype=pl.Boolean, eager=True).alias("blank")
    raw = pl.repeat(None, cells.height, dtype=pl.String, eager=True).alias("raw")
    odd = _uncounted(cells, t, ends, header)
    if odd.len():
        exact = _cells(_counts(t, starts.gather(odd), ends.gather(odd), header, ln0), header, cells[odd])
        full.scatter(odd, exact.get_column("cells"))
        blank.scatter(odd, exact.get_column("blank"))
        raw.scatter(odd, exact.get_column("raw"))
    return pl.DataFrame([(starts.cast(pl.Int64) + ln0).alias("ln"), full, blank, raw])


def _uncounted(cells: pl.DataFrame, t: pl.Series, ends: pl.Series, header: Header) -> pl.Series:
    """Indices of the rows whose cells ``_records`` must count (``ends``: each record's last line in ``t``)."""
    n, d = len(header.names), header.delimiter
    # Series methods run as expressions on the series' name: a header like "*" must not name one
    at = cells.to_series(n - 1).alias("c").is_null().arg_true()
    odd = at.clear()
    if at.len():
        k = _trailing_nulls(cells, at)
        end = t.gather(ends.gather(at))
        trailing = end.str.len_bytes() - end.str.strip_chars_end(d).str.len_bytes()  # delimiters at the end
        odd = at.filter((k == n) | (trailing != k))
    if d.isspace() or n == 1:  # a line of whitespace cells (" ", "\t", " \t ") is blank, not a record
        first = cells.to_series(0).alias("c")
        space = (first.is_null() | (first.str.strip_chars() == "")).arg_true()
        odd = pl.concat([odd, space]).unique().sort()
    return odd


def _trailing_nulls(cells: pl.DataFrame, at: pl.Series) -> pl.Series:
    """For the rows ``at`` (whose last cell is null): how many cells at the row's end are null. Walks the
    columns from the right while some of these rows are still all null (a few columns, not all of them)."""
    k = pl.repeat(1, at.len(), dtype=pl.UInt32, eager=True)
    alive = pl.repeat(True, at.len(), dtype=pl.Boolean, eager=True)
    for j in range(cells.width - 2, -1, -1):
        alive = alive & cells.to_series(j).alias("c").is_null().gather(at)
        if not alive.any():
            break
        k = k + alive.cast(pl.UInt32)
    return k


def _parse(data: bytes, header: Header, *, ragged: bool) -> pl.DataFrame | None:
    """polars' parse of ``data`` (no header, every column a string); ``None`` when polars refuses it.
    Without ``ragged`` polars refuses a row with more cells than the header (and pads a shorter one)."""
    opts: dict[str, Any] = {}
    if ragged:
        opts = {"truncate_ragged_lines": True, "extra_columns": "ignore", "missing_columns": "insert"}
    try:
        return pl.read_csv(
            data,
            has_header=False,
            separator=header.delimiter,
            quote_char='"',
            schema=dict.fromkeys(header.names, pl.String),
            raise_if_empty=False,
            **opts,
        )
    except pl.exceptions.PolarsError:
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
