"""Header-only reads for detection: the first record of each file, never the whole export.

Handles what detection needs to see: CSV/TSV/TXT with any of extract's delimiters (sniffed with
``etl.extract.dialect``), UTF-8 with or without BOM, UTF-16 by BOM, cp1252 fallback; ZIPs (every
CSV/TSV/TXT/JSON member, labelled ``<zip>::<member>`` like extract labels them); folders (walked, as an
AWeber account export is one folder per list); JSON arrays and NDJSON (keys of the first object); XLSX
(first row); legacy API sources (``legacy+https://…``: the API's fixed columns).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from etl.errors import InputError
from etl.extract.dialect import column_names, sniff_delimiter, split_record

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
JSON_SUFFIXES = (".json", ".ndjson", ".jsonl")
HEAD_BYTES = 256 * 1024
LEGACY_API_COLUMNS = ("email", "first_name", "last_name", "status", "id")


def _decode(head: bytes, label: str) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    if b"\x00" in head:
        sample = head[:4096]
        if sample[1::2].count(0) > len(sample) * 0.4:  # UTF-16 LE without a BOM: NUL every other byte
            return head.decode("utf-16-le", errors="ignore")
        if sample[0::2].count(0) > len(sample) * 0.4:
            return head.decode("utf-16-be", errors="ignore")
        raise InputError("binary file (NUL bytes), not an export", path=label)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the read limit
            return head[: exc.start].decode("utf-8")
        return head.decode("cp1252", errors="replace")


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


def _csv_header(head: bytes, suffix: str, label: str) -> list[str]:
    record, sample = _first_record(_decode(head, label))
    if not record:
        return []
    delim = sniff_delimiter(record, sample, "\t" if suffix == ".tsv" else None)
    return column_names([c.strip() for c in split_record(record, delim)])


def _json_header(head: bytes, label: str) -> list[str]:
    text = _decode(head, label).lstrip()
    try:
        if text.startswith("["):
            dec = json.JSONDecoder()
            obj, _ = dec.raw_decode(text[1:].lstrip())
        else:
            obj = json.loads(text.splitlines()[0]) if text else {}
    except (ValueError, IndexError):
        raise InputError("cannot read the first JSON object for detection", path=label) from None
    return list(obj) if isinstance(obj, dict) else []


def _xlsx_header(path: Path) -> list[str]:
    import polars as pl

    try:
        frame = pl.read_excel(path, has_header=False, read_options={"n_rows": 1})
    except Exception as exc:  # fastexcel raises its own types; report them as unreadable input
        raise InputError(f"cannot read the first row: {type(exc).__name__}", path=str(path)) from None
    return [str(v).strip() for v in frame.row(0) if v is not None] if frame.height else []


def _one(data: bytes, name: str, label: str) -> list[str]:
    suffix = Path(name).suffix.lower()
    if suffix in JSON_SUFFIXES:
        return _json_header(data, label)
    return _csv_header(data, suffix, label)


def read_headers(sources: list[str]) -> dict[str, list[str]]:
    """``{source label: header}`` for every file behind ``sources``; unreadable sources are InputErrors."""
    out: dict[str, list[str]] = {}
    for src in sources:
        if src.strip().lower().startswith(("legacy+http://", "legacy+https://")):
            out[src] = list(LEGACY_API_COLUMNS)
            continue
        path = Path(src)
        if not path.exists():
            raise InputError("no such file", path=src)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (*TEXT_SUFFIXES, *JSON_SUFFIXES))
            if not files:
                raise InputError("folder holds no CSV/TSV/TXT/JSON file", path=src)
            out.update(read_headers([str(p) for p in files]))
        elif path.suffix.lower() == ".zip":
            out.update(_zip_headers(path))
        elif path.suffix.lower() in (".xlsx", ".xls"):
            out[src] = _xlsx_header(path)
        else:
            with path.open("rb") as fh:
                head = fh.read(HEAD_BYTES)
            if not head:  # the same refusal as extract's: nothing to detect, nothing to migrate
                raise InputError("empty file (0 bytes)", path=src)
            out[src] = _one(head, path.name, src)
            if not out[src] and path.suffix.lower() not in JSON_SUFFIXES:
                raise InputError("no header row: the file has only blank lines", path=src)
    return out


def _zip_headers(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or "__MACOSX" in name or Path(name).name.startswith("."):
                    continue
                if Path(name).suffix.lower() not in (*TEXT_SUFFIXES, *JSON_SUFFIXES):
                    continue
                with zf.open(info) as fh:
                    head = fh.read(HEAD_BYTES)
                out[f"{path}::{name}"] = _one(head, name, f"{path}::{name}")
    except zipfile.BadZipFile:
        raise InputError("not a readable ZIP archive", path=str(path)) from None
    if not out:
        raise InputError("ZIP holds no CSV/TSV/TXT/JSON member", path=str(path))
    return out
