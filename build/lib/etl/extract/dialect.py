"""Delimiter sniffing and header naming, shared by every reader.

Naming contract (downstream stages rely on it):

- a column is named exactly as its header cell (a leading UTF-8 BOM is stripped, nothing is trimmed);
- an empty header cell at 1-based position *n* becomes ``column_<n>``;
- a repeated name keeps the first column as is; the second becomes ``NAME (2)``, the third ``NAME (3)`` …
  (Mailchimp's 2013 exports repeat ``UNSUB_REASON``; HubSpot's repeat ``Create Date``, ``Phone Number``…
  for the associated company) — a value is never silently overwritten, and the name says to a person
  which column it is (the report, a custom field's label, ``rejects.csv``, which writes the header back
  as the file had it: ``renamed_headers``);
- a header cell equal to a provenance column (``row_id``, ``source_file``, ``source_line``) or to a column
  validate carries beside the source columns (``reason_code``, ``reason``, ``raw_line``: ``RESERVED_NAMES``)
  is suffixed the same way, so provenance can never be spoofed by the export and its values are kept;
- a header starting with ``__bme_`` (the prefix of the tool's working columns, ``INTERNAL_PREFIX``) gets
  one more leading ``_`` (``___bme_x``), so no source column can collide with one (issue #15 item 3).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from etl.model import PROVENANCE

CANDIDATES: tuple[str, ...] = (",", ";", "\t", "|")
# The stdlib csv module refuses a field over 131,072 characters by default; an export's notes cell can be
# megabytes. 2**31 - 1 is the largest limit every platform's C long accepts (sys.maxsize is not on Windows).
FIELD_LIMIT = 2**31 - 1
# names frames give the tool's own columns next to the source columns (etl/validate/core.py rejected_raw)
RESERVED_NAMES = (*PROVENANCE, "reason_code", "reason", "raw_line")
INTERNAL_PREFIX = "__bme_"  # working columns of extract and validate; never the name of a source column


def csv_reader(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """``csv.reader`` as every reader here uses it (RFC 4180 quotes, lenient), with no cell size limit.

    The limit is process-wide state in the csv module, so it is set here, at every use, rather than once
    at start-up where something else could lower it again before a file is read.
    """
    csv.field_size_limit(FIELD_LIMIT)
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


def split_record(text: str, delimiter: str) -> list[str]:
    """Split one CSV record (which may contain quoted newlines) into raw cell strings, RFC 4180 style."""
    rows = list(csv_reader(io.StringIO(text, newline=""), delimiter))
    if not rows:
        return [""]
    cells = rows[0]
    for extra in rows[1:]:  # an unclosed quote cannot produce several rows, but be total anyway
        cells.extend(extra)
    return cells


def sniff_delimiter(header: str, sample: Sequence[str], preferred: str | None = None) -> str:
    """Pick the delimiter among ``, ; TAB |`` from the header and a sample of single-line records.

    Score per candidate: how many sample lines have exactly the header's cell count (quote-aware), then
    the header's cell count itself. A candidate that does not split the header scores nothing; with no
    winner the file is one column and ``preferred`` (from the file extension) or ``,`` is used.
    """
    best: tuple[int, int, int] | None = None
    best_delim = preferred or ","
    for rank, delim in enumerate(CANDIDATES):
        width = len(split_record(header, delim))
        if width < 2:
            continue
        agree = sum(1 for line in sample if len(split_record(line, delim)) == width)
        score = (agree, width, -rank if delim != preferred else 1)
        if best is None or score > best:
            best, best_delim = score, delim
    return best_delim


def column_names(raw: Sequence[str]) -> list[str]:
    """Apply the naming contract in the module docstring to raw header cells."""
    names: list[str] = []
    seen: set[str] = set(RESERVED_NAMES)
    for i, cell in enumerate(raw, start=1):
        name = cell.removeprefix("\ufeff") if i == 1 else cell
        if name == "":
            name = f"column_{i}"
        if name.startswith(INTERNAL_PREFIX):
            name = "_" + name
        if name in seen:
            k = 2
            while repeated(name, k) in seen:
                k += 1
            name = repeated(name, k)
        seen.add(name)
        names.append(name)
    return names


def repeated(name: str, k: int) -> str:
    """The ``k``-th column named ``name`` (k ≥ 2): ``Create Date (2)``."""
    return f"{name} ({k})"


def renamed_headers(names: Sequence[str], raw: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(column name, header text as the file had it) for the columns the naming contract renamed because
    their header repeats another (not for generated ``column_<n>`` names): how ``rejects.csv`` writes them."""
    out = []
    for i, (name, cell) in enumerate(zip(names, raw, strict=False)):
        text = cell.removeprefix("\ufeff") if i == 0 else cell
        if text and name != text:
            out.append((name, text))
    return tuple(out)
