"""CSV/TSV/TXT reader: streamed block by block; polars parses, a vectorised line scan keeps the books.

Why both. polars' CSV reader is fast but cannot say on which physical line a record started, nor tell a
short row from a row whose last cells are empty. For each block (``linescan``: 16 MiB cut at a record
start) the file's lines give each record's start line (quote parity), whether it is blank and its
delimiter count; polars parses the same bytes, and a record's cell count is its delimiters + 1 less the
delimiters inside its parsed values. The two views are zipped by record index. Wherever they could
disagree the rest of the file goes to the exact but slow ``slowcsv`` reader instead, from the block's
first record on: an unterminated quote, a quote in the middle of an unquoted cell, polars refusing the
block, or a record count mismatch.

Encoding: a file is read as UTF-8 unless ``--encoding`` says otherwise or its BOM (or NUL-byte pattern)
says UTF-16; polars validates each block as it splits it into lines. A block that is not UTF-8 makes
``encoding.scan_encoding`` decide for the whole file (the detected code page, or an error naming the line
and asking for ``--encoding``) and the file is transcoded, streaming, to a temporary UTF-8 copy — from the
start, since the rows read so far must be read again (``EncodingChanged``).

Ragged policy: fewer cells than the header → reject, unless only trailing *unnamed* header columns are
missing (a header ending in a delimiter); more cells → reject, unless every extra cell is empty (a row
ending in a stray delimiter). Unnamed trailing columns that are empty on every row are dropped (found by
one extra pass, only for headers that end in a delimiter).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import replace
from itertools import takewhile
from pathlib import Path
from typing import TypeVar

import polars as pl

from etl.errors import InputError
from etl.extract import linescan, slowcsv
from etl.extract.dialect import renamed_headers
from etl.extract.encoding import (
    Choice,
    first_utf8_error,
    given_encoding,
    head_encoding,
    position,
    scan_encoding,
    utf8_source,
)
from etl.extract.linescan import Header, NotUtf8
from etl.extract.options import ReadOptions
from etl.extract.result import PART_REJECT_SCHEMA, REC, FileInfo, Part
from etl.frames import aligned
from etl.model import SOURCE_LINE

R = TypeVar("R")


class EncodingChanged(Exception):
    """A file read as UTF-8 is not UTF-8 after all, and rows of it were already handed out: the caller
    starts reading again with ``choice`` for ``label`` (see ``restarting``)."""

    def __init__(self, label: str, choice: Choice) -> None:
        super().__init__(f"{label}: not UTF-8, read as {choice.encoding}")
        self.label = label
        self.choice = choice


def restarting(
    attempt: Callable[[Mapping[str, Choice]], R], on_restart: Callable[[], None] | None = None
) -> R:
    """``attempt(encodings)``, run again with each ``EncodingChanged``'s decision added to ``encodings``
    (label → choice) until it completes; ``on_restart`` runs before every new attempt."""
    encodings: dict[str, Choice] = {}
    while True:
        try:
            return attempt(encodings)
        except EncodingChanged as changed:
            if changed.label in encodings:  # decided once already: cannot change again (a bug)
                raise RuntimeError(f"encoding of {changed.label} changed twice") from None
            encodings[changed.label] = changed.choice
            if on_restart is not None:
                on_restart()


class DelimitedSource:
    """One delimited file opened for streaming: encoding, header and columns are known up front, the
    records are read block by block (``parts``), so memory holds one block, not the file.

    The temporary UTF-8 copy of a non-UTF-8 file lives as long as ``stack`` (the caller's ExitStack).
    """

    def __init__(
        self,
        path: Path,
        label: str,
        workdir: Path,
        stack: ExitStack,
        kind: str = "csv",
        encoding: Choice | None = None,
        options: ReadOptions | None = None,
    ) -> None:
        options = options or ReadOptions()
        self._label = label
        self._path = path
        self._preferred = "\t" if path.suffix.lower() == ".tsv" else None
        self._delimiter = options.delimiter
        self._recheck: tuple[Path, str | None, int] | None = None
        if options.encoding is not None:  # --encoding: no detection at all
            codec, bom_len = given_encoding(path, options.encoding)
            choice = Choice(codec, "given")
        else:
            declared, bom_len = head_encoding(path, label)
            if declared is not None and declared.startswith("utf-16"):
                choice = Choice(declared, "bom" if bom_len else "nul-pattern")
            elif encoding is not None:  # decided by an earlier attempt that found the file is not UTF-8
                choice = encoding
            else:
                # Optimistic: polars validates every block as it splits it into lines, so a UTF-8 file costs
                # no extra pass. A later block that is not UTF-8 makes the whole file something else: then
                # ``EncodingChanged`` asks the caller to start again with the encoding decided here.
                choice, self._recheck = Choice("utf-8", "utf-8"), (path, declared, bom_len)
        self._bom_len = bom_len
        self._choice = choice
        self._src = stack.enter_context(utf8_source(path, workdir, label, choice.encoding, bom_len))
        try:
            header = self._header()
        except EncodingChanged as changed:  # the first block already says: nothing was handed out yet
            self._recheck = None
            self._choice = changed.choice
            self._src = stack.enter_context(
                utf8_source(path, workdir, label, changed.choice.encoding, bom_len)
            )
            header = self._header()
        self.header = header
        note = self._choice.note(label)
        self._info = FileInfo(
            path=label,
            encoding=self._src.encoding,
            delimiter=header.delimiter,
            kind=kind,
            rows=0,
            header=tuple(header.names),
            bom=self._src.bom,
            renamed=renamed_headers(header.names, header.raw),
            notes=(note,) if note else (),
        )
        self._drop = self._empty_unnamed() if header.trailing_unnamed else []
        if self._drop:
            self._info = replace(self._info, header=tuple(n for n in header.names if n not in self._drop))

    def _header(self) -> Header:
        header, blocks = self._stream()
        blocks.close()  # only the header was wanted here
        return header

    def _not_utf8(self) -> Exception:
        """What a block that polars cannot decode means: another encoding (decided over the whole file,
        exactly as ``encoding.scan_encoding`` says), or, when the encoding was given or already decided,
        text that is not valid in it."""
        if self._recheck is None:
            if self._choice.encoding == "utf-8":  # --encoding utf-8 on a file that is not
                err = first_utf8_error(self._path, self._bom_len)
                if err is not None:
                    line, col = position(self._path, err[0])
                    return InputError(
                        f"invalid UTF-8 at byte offset {err[0]} ({err[1]}) although --encoding says "
                        "UTF-8; give the file's real encoding, or leave --encoding out to detect it",
                        path=self._label,
                        line=line,
                        column=col,
                    )
            return InputError("cannot read the file as text", path=self._label)
        path, declared, bom_len = self._recheck
        return EncodingChanged(self._label, scan_encoding(path, self._label, declared, bom_len))

    @property
    def info(self) -> FileInfo:
        """What is known of the file; ``rows`` counts the records streamed so far."""
        return self._info

    def _stream(self) -> tuple[Header, Generator[linescan.Block, None, None]]:
        try:
            return linescan.stream(
                self._src.path, self._label, self._preferred, linescan.BLOCK, delimiter=self._delimiter
            )
        except NotUtf8:
            raise self._not_utf8() from None

    def parts(self) -> Iterator[Part]:
        """The file's records, one ``Part`` per block, ``REC`` numbered across the whole file."""
        rows = 0
        for part in self._parts():
            rows += part.info.rows
            self._info = replace(self._info, rows=rows)
            yield _drop_columns(part, self._drop)

    def _parts(self) -> Iterator[Part]:
        header, blocks = self._stream()
        info, rec0 = replace(self._info, header=tuple(header.names)), 0
        try:
            for block in blocks:
                part = (
                    None
                    if block.records is None or block.cells is None
                    else assemble(_quoted_empty_to_null(block.cells), block.records, header, info, rec0)
                )
                if part is None:  # from here on the exact reader decides (the block starts a record)
                    blocks.close()
                    yield slowcsv.read(
                        self._src.path, header, info, offset=block.offset, line0=block.line0, rec0=rec0
                    )
                    return
                rec0 += part.info.rows
                yield part
        except NotUtf8:
            raise self._not_utf8() from None

    def _empty_unnamed(self) -> list[str]:
        """Trailing header columns with no name that are empty on every row (one extra pass, only for
        files whose header ends in a delimiter)."""
        return empty_unnamed(self.header, (part.frame for part in self._parts()))


def read_delimited(
    path: Path, label: str, workdir: Path, kind: str = "csv", options: ReadOptions | None = None
) -> Part:
    """Read one delimited text file into a single ``Part`` (see ``etl.extract.result``)."""

    def attempt(encodings: Mapping[str, Choice]) -> tuple[list[Part], FileInfo]:
        with ExitStack() as stack:
            source = DelimitedSource(path, label, workdir, stack, kind, encodings.get(label), options)
            return list(source.parts()), source.info

    parts, info = restarting(attempt)
    frames = [p.frame for p in parts]
    rejects = [p.rejects for p in parts]
    if not frames:
        return Part(
            pl.DataFrame(
                schema={**dict.fromkeys(info.header, pl.String), SOURCE_LINE: pl.Int64, REC: pl.Int64}
            ),
            pl.DataFrame(schema=PART_REJECT_SCHEMA),
            info,
        )
    return Part(pl.concat(frames, rechunk=False), pl.concat(rejects), info)


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


def assemble(data: pl.DataFrame, scan: pl.DataFrame, header: Header, info: FileInfo, rec0: int = 0) -> Part:
    """Zip parsed cells with the scan: drop blank lines, split ragged records off, number the rest.

    New columns are built with the parsed frame's chunk layout: adding a single-chunk column to a
    many-chunk string frame makes every later filter rechunk (copy) all strings — seconds per million rows.
    """
    n = len(header.names)
    blank = scan["blank"]
    if blank.any():
        data = data.filter(~blank)
        scan = scan.filter(~blank)
    scan = scan.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + rec0).alias(REC))
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


def _drop_columns(part: Part, drop: list[str]) -> Part:
    """``part`` without the ``drop`` columns (trailing unnamed columns found empty on every row)."""
    if not drop:
        return part
    info = replace(part.info, header=tuple(nm for nm in part.info.header if nm not in drop))
    keep = [i for i, c in enumerate(part.frame.columns) if c not in drop]
    return Part(part.frame.select(pl.nth(keep)), part.rejects, info)


def empty_unnamed(header: Header, frames: Iterable[pl.DataFrame]) -> list[str]:
    """The trailing header columns that had no name and are empty on every row of ``frames``, last first."""
    trailing = list(reversed(header.names[len(header.names) - header.trailing_unnamed :]))
    filled: set[str] = set()
    for frame in frames:
        filled.update(n for n in trailing if frame.get_column(n).null_count() != frame.height)
    return list(takewhile(lambda name: name not in filled, trailing))


def _drop_unnamed_empty(part: Part, header: Header) -> Part:
    """Drop trailing header columns that had no name and are empty on every row (whole-file ``part``)."""
    return _drop_columns(part, empty_unnamed(header, [part.frame]))
