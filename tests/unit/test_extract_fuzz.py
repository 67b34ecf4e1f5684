"""Property: any messy CSV is either read with every record accounted for, or refused with InputError."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.errors import InputError
from etl.extract import linescan, read_sources, slowcsv
from etl.extract.delimited import _drop_unnamed_empty, read_delimited

ALPHABET = "ab Z09@.,;|\t\"'\n\réüßØ€-"
cells = st.text(alphabet=ALPHABET, max_size=12)
names = st.text(alphabet="abcXYZ_ 0", min_size=1, max_size=8).filter(lambda s: s.strip() != "")


def _written(row: list[str], delimiter: str, quoting: int) -> str:
    """How csv.writer writes ``row`` as one line (no terminator)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="", quoting=quoting).writerow(row)
    return out.getvalue()


@st.composite
def messy_csv(draw: st.DrawFn, terminators: tuple[str, ...] = ("\n", "\r\n")) -> tuple[bytes, int]:
    width = draw(st.integers(2, 5))  # one column gives the sniffer nothing to go on: see test_extract_csv
    header = draw(st.lists(names, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=width + 2), max_size=25))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))

    # Policy, not luck: a line holding only whitespace is a blank line, not a record (with a tab delimiter
    # that includes a row of empty cells, "\t\t"); csv.writer writes an empty row as a blank line too.
    rows = [r for r in rows if _written(r, delimiter, csv.QUOTE_MINIMAL).strip() != ""]
    terminator = draw(st.sampled_from(terminators))
    blank_every = draw(st.integers(0, 4))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for i, row in enumerate(rows):
        w.writerow(row)
        if blank_every and i % blank_every == 0:
            buf.write(terminator)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return buf.getvalue().encode(encoding), len(rows)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv())
def test_every_record_is_accounted_for(case: tuple[bytes, int]) -> None:
    data, records = case
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "messy.csv"
        p.write_bytes(data)
        try:
            res = read_sources([p])
        except InputError:
            return
    assert res.frame.height + res.rejects.height == records
    assert res.files[0].rows == records
    ids = res.frame["row_id"].to_list() + res.rejects["row_id"].to_list()
    assert sorted(ids) == list(range(records))
    lines = res.frame["source_line"].to_list() + res.rejects["source_line"].to_list()
    assert len(set(lines)) == len(lines) and all(line >= 2 for line in lines)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "blob.csv"
        p.write_bytes(data)
        try:
            res = read_sources([p])
        except InputError:
            return
    assert res.rows_read == res.files[0].rows


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv(), st.integers(16, 200))
def test_block_size_does_not_change_the_scan(case: tuple[bytes, int], block: int) -> None:
    """Streaming in tiny blocks (records straddling every boundary) gives the same records as one block."""
    data, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "messy.csv"
        p.write_bytes(data.decode(_encoding_of(data)).encode("utf-8"))
        try:
            whole = linescan.scan(p, "x", None)
        except (InputError, linescan.NotUtf8):
            return
        small = linescan.scan(p, "x", None, block=block)
    assert small[0] == whole[0]
    if whole[1] is None or small[1] is None:
        assert whole[1] is None or small[1] is None  # untrusted either way → the exact reader decides
        return
    assert small[1].equals(whole[1])


def _encoding_of(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


@settings(max_examples=160, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv(terminators=("\r\n",)), st.sampled_from([linescan.BLOCK, 40, 97, 301]))
def test_fast_path_equals_the_stdlib_reference(case: tuple[bytes, int], block: int) -> None:
    """Where the fast path vouches for a file, it yields exactly what the stdlib reader yields — also in
    small blocks, where records straddle block ends.

    CRLF only: with a ``\n`` terminator csv.writer leaves a lone ``\r`` unquoted, which the stdlib
    reader takes as a line end and polars (like us: lines end at ``\n``) as data.
    """
    data, _ = case
    _assert_fast_equals_stdlib(data.decode(_encoding_of(data)).encode("utf-8"), block, scan_block=block)


def _assert_fast_equals_stdlib(data: bytes, block: int, *, scan_block: int) -> None:
    """Read the UTF-8 ``data`` with the fast reader in ``block``-sized blocks and, where the line scan in
    ``scan_block``-sized blocks vouches for the file, assert the stdlib reader gives the same Part."""
    default = linescan.BLOCK
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "export.csv"
        p.write_bytes(data)
        try:
            linescan.BLOCK = block
            fast = read_delimited(p, "x", Path(tmp))
            header, records = linescan.scan(p, "x", None, block=scan_block)
        except InputError:
            return
        finally:
            linescan.BLOCK = default
        if records is None:
            return
        slow = _drop_unnamed_empty(slowcsv.read(p, header, fast.info), header)
    assert fast.frame.equals(slow.frame)
    assert fast.rejects.equals(slow.rejects)
    assert fast.info == slow.info


@st.composite
def well_formed_csv(draw: st.DrawFn) -> bytes:
    """Every row as wide as the header, cells quoted where csv.writer must (delimiters, quotes, newlines
    inside): the shape of a real export, which the fast path must read exactly in any block size."""
    width = draw(st.integers(2, 5))
    header = draw(st.lists(names, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=40))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    w.writerow(header)
    for row in rows:
        # a blank line is no record; lone CRs: see test_fast_path_equals_the_stdlib_reference
        if _written(row, delimiter, quoting).strip() and "\r" not in "".join(row):
            w.writerow(row)
    return buf.getvalue().encode("utf-8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed_csv(), st.sampled_from([64, 128, 512]))
def test_block_fast_path_equals_the_stdlib_reference(data: bytes, block: int) -> None:
    """Small blocks over well-formed exports (records straddling most block ends, quoted newlines and
    delimiters): exactly what the stdlib reader gives — cells, start lines, record numbers."""
    _assert_fast_equals_stdlib(data, block, scan_block=linescan.BLOCK)
