"""Header-only reads for detection: the first record of each file, never the whole export.

Handles what detection needs to see: CSV/TSV/TXT with any of extract's delimiters (sniffed with
``etl.extract.dialect``, or ``--delimiter``), UTF-8 with or without BOM, UTF-16 by BOM or NUL-byte pattern,
other code pages as extract decides them (``etl.extract.encoding.decode_head``: extract's policy over
the head, or ``--encoding``; not sure or mixed → the same ``InputError`` extract raises); ZIPs and folders
walked by extract's own walk (``etl.extract.sources.archive_members``/``wanted_member``: the same members,
skips, nesting and caps, labelled ``<zip>::<member>`` like extract labels them; an AWeber account export is
one folder per list); JSON arrays and NDJSON (keys of the first object); workbooks (every sheet extract
reads, labelled `book.xlsx [Sheet]` like extract labels them: the one reader read whole); legacy API
sources (``legacy+https://…``: the API's fixed columns).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path, PurePosixPath

from etl.errors import InputError
from etl.extract.dialect import column_names, sniff_delimiter, split_record
from etl.extract.encoding import decode_head
from etl.extract.excel import read_workbook
from etl.extract.options import ReadOptions
from etl.extract.sources import (
    EXCEL_EXT,
    JSON_EXT,
    NDJSON_EXT,
    ArchiveBudget,
    archive_members,
    extract_member,
    is_workbook,
    is_zip,
    member_head,
    open_archive,
    safe_suffix,
    wanted_member,
)
from etl.terminal import printable

HEAD_BYTES = 256 * 1024
LEGACY_API_COLUMNS = ("email", "first_name", "last_name", "status", "id")


def _decode(head: bytes, label: str, given: str | None = None) -> str:
    """The text of a file's first bytes, decided as extract decides the whole file."""
    return decode_head(head, label, given, whole=len(head) < HEAD_BYTES)


def _first_record(text: str) -> tuple[str, list[str]]:
    """The header record (quoted newlines allowed) and a few following lines for delimiter sniffing."""
    lines = text.splitlines()
    record, i = "", 0
    while i < len(lines):
        record = lines[i] if not record else record + "\n" + lines[i]
        i += 1
        if record.count('"') % 2 == 0 and record.strip():
            break
        if not record.strip():
            record = ""
    return record, lines[i : i + 20]


def _csv_header(head: bytes, suffix: str, label: str, options: ReadOptions) -> list[str]:
    record, sample = _first_record(_decode(head, label, options.encoding))
    if not record:
        return []
    delim = options.delimiter or sniff_delimiter(record, sample, "\t" if suffix == ".tsv" else None)
    return column_names([c.strip() for c in split_record(record, delim)])


def _json_header(head: bytes, label: str, options: ReadOptions) -> list[str]:
    text = _decode(head, label, options.encoding).lstrip()
    try:
        if text.startswith("["):
            dec = json.JSONDecoder()
            obj, _ = dec.raw_decode(text[1:].lstrip())
        else:
            obj = json.loads(text.splitlines()[0]) if text else {}
    except (ValueError, IndexError):
        raise InputError("cannot read the first JSON object for detection", path=label) from None
    return list(obj) if isinstance(obj, dict) else []


def _xlsx_headers(path: Path, label: str) -> dict[str, list[str]]:
    """Every sheet extract would read, under extract's label (``book.xlsx [Sheet]``), with its header.
    The workbook is read as extract reads it (calamine loads a sheet whole anyway), so the sheets skipped
    as empty or as a summary are the same ones."""
    return {p.info.path: list(p.info.header) for p in read_workbook(path, label)}


def _one(data: bytes, name: str, label: str, options: ReadOptions) -> list[str]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in JSON_EXT | NDJSON_EXT:
        return _json_header(data, label, options)
    return _csv_header(data, suffix, label, options)


def read_headers(sources: list[str], options: ReadOptions | None = None) -> dict[str, list[str]]:
    """``{source label: header}`` for every file behind ``sources``; unreadable sources are InputErrors.
    ``options``: ``--encoding`` / ``--delimiter`` for every text file; the archive caps as extract's.

    Folders and archives are walked as extract walks them (``etl.extract.sources``: the same members, in
    the same order, under the same labels); only the first ``HEAD_BYTES`` of a text member are read, and
    only a nested ZIP or a workbook member is unpacked (within the caps) to be opened.
    """
    options = options or ReadOptions()
    out: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bme-headers-") as tmp:
        budget = ArchiveBudget(options)
        for src in sources:
            if src.strip().lower().startswith(("legacy+http://", "legacy+https://")):
                out[src] = list(LEGACY_API_COLUMNS)
                continue
            path = Path(src)
            if not path.exists():
                raise InputError("no such file", path=src)
            if path.is_dir():
                files = sorted(
                    p for p in path.rglob("*") if p.is_file() and wanted_member(p.relative_to(path).parts)
                )
                if not files:
                    raise InputError("folder holds no CSV/TSV/TXT/JSON/XLSX file", path=src)
                for member in files:
                    out.update(_file_headers(member, str(member), options, Path(tmp), budget))
            else:
                out.update(_file_headers(path, src, options, Path(tmp), budget))
    return out


def _file_headers(
    path: Path, label: str, options: ReadOptions, workdir: Path, budget: ArchiveBudget
) -> dict[str, list[str]]:
    """One file on disk: an archive (walked), a workbook (every sheet) or a text/JSON file (its head)."""
    if is_zip(path) and not is_workbook(path):
        return _zip_headers(path, label, options, workdir, budget)
    if path.suffix.lower() in EXCEL_EXT or is_workbook(path):
        return _xlsx_headers(path, label)
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head:  # the same refusal as extract's: nothing to detect, nothing to migrate
        raise InputError("empty file (0 bytes)", path=label)
    header = _one(head, path.name, label, options)
    if not header and path.suffix.lower() not in JSON_EXT | NDJSON_EXT:
        raise InputError("no header row: the file has only blank lines", path=label)
    return {label: header}


def _zip_headers(
    path: Path,
    label: str,
    options: ReadOptions,
    workdir: Path,
    budget: ArchiveBudget,
    nested: bool = False,
) -> dict[str, list[str]]:
    """Every member extract would read, labelled ``<zip>::<member>`` as extract labels it."""
    out: dict[str, list[str]] = {}
    with open_archive(path, label) as zf:
        members, _ = archive_members(zf, label, nested)
        for info in members:
            member_label = f"{label}::{printable(info.filename)}"
            suffix = PurePosixPath(info.filename).suffix.lower()
            if suffix == ".zip" or suffix in EXCEL_EXT:  # opened as files: unpacked within the caps
                dst = workdir / f"{budget.next_id()}{safe_suffix(info.filename)}"
                extract_member(zf, info, dst, member_label, budget)
                if suffix == ".zip":
                    out.update(_zip_headers(dst, member_label, options, workdir, budget, nested=True))
                else:
                    out.update(_xlsx_headers(dst, member_label))
                continue
            out[member_label] = _one(
                member_head(zf, info, member_label, HEAD_BYTES), info.filename, member_label, options
            )
    return out
