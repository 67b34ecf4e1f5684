"""Header-only reads for detection: the first record of each file, never the whole export.

Handles what detection needs to see: CSV/TSV/TXT with any of extract's delimiters (sniffed with
``etl.extract.dialect``, or ``--delimiter``), UTF-8 with or without BOM, UTF-16 by BOM or NUL-byte pattern,
other code pages as extract decides them (``etl.extract.charsets`` over the head, or ``--encoding``;
not sure → the same ``InputError`` extract raises); ZIPs (every
CSV/TSV/TXT/JSON member, labelled ``<zip>::<member>`` like extract labels them); folders (walked, as an
AWeber account export is one folder per list); JSON arrays and NDJSON (keys of the first object); XLSX
(first row); legacy API sources (``legacy+https://…``: the API's fixed columns).
"""

from __future__ import annotations

import codecs
import json
import zipfile
import zlib
from pathlib import Path

from etl.errors import InputError
from etl.extract.charsets import guess_encoding
from etl.extract.dialect import column_names, sniff_delimiter, split_record
from etl.extract.encoding import detect_bom, non_ascii_lines, unsure_message, utf16_without_bom
from etl.extract.options import ReadOptions
from etl.extract.sources import shown

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
JSON_SUFFIXES = (".json", ".ndjson", ".jsonl")
HEAD_BYTES = 256 * 1024
LEGACY_API_COLUMNS = ("email", "first_name", "last_name", "status", "id")


def _decode(head: bytes, label: str, given: str | None = None) -> str:
    """The text of a file's first bytes, decided as extract decides the whole file."""
    declared, bom_len = detect_bom(head)
    if given is not None:  # a BOM of the given encoding is skipped, as extract skips it
        same = declared is not None and (given == declared or (given == "utf-16" and declared != "utf-8"))
        codec, skip = (declared, bom_len) if same and declared is not None else (given, 0)
        return codecs.getincrementaldecoder(codec)("replace").decode(head[skip:])
    if declared is not None and declared.startswith("utf-16"):
        return head[bom_len:].decode(declared, errors="ignore")
    if declared is None and b"\x00" in head:
        guessed = utf16_without_bom(head[:4096])
        if guessed is None:
            raise InputError("binary file (NUL bytes), not an export", path=label)
        return head.decode(guessed, errors="ignore")
    head = head[bom_len:]
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the read limit
            return head[: exc.start].decode("utf-8")
        bad = exc.start
    text = head if len(head) < HEAD_BYTES else head[: head.rfind(b"\n") + 1]
    guess = guess_encoding(b"\n".join(non_ascii_lines(text, len(text))[0]))
    if not guess.sure:
        line = head.count(b"\n", 0, bad) + 1
        column = bad - (head.rfind(b"\n", 0, bad) + 1) + 1
        message = unsure_message(bad, head[bad : bad + 8], guess.encoding, guess.confidence, guess.runner_up)
        raise InputError(message, path=label, line=line, column=column)
    return text.decode(guess.encoding, errors="replace")


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


def _xlsx_header(path: Path) -> list[str]:
    import polars as pl

    try:
        frame = pl.read_excel(path, has_header=False, read_options={"n_rows": 1})
    except Exception as exc:  # fastexcel raises its own types; report them as unreadable input
        raise InputError(f"cannot read the first row: {type(exc).__name__}", path=str(path)) from None
    return [str(v).strip() for v in frame.row(0) if v is not None] if frame.height else []


def _one(data: bytes, name: str, label: str, options: ReadOptions) -> list[str]:
    suffix = Path(name).suffix.lower()
    if suffix in JSON_SUFFIXES:
        return _json_header(data, label, options)
    return _csv_header(data, suffix, label, options)


def read_headers(sources: list[str], options: ReadOptions | None = None) -> dict[str, list[str]]:
    """``{source label: header}`` for every file behind ``sources``; unreadable sources are InputErrors.
    ``options``: ``--encoding`` / ``--delimiter`` for every text file."""
    options = options or ReadOptions()
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
            out.update(read_headers([str(p) for p in files], options))
        elif path.suffix.lower() == ".zip":
            out.update(_zip_headers(path, options))
        elif path.suffix.lower() in (".xlsx", ".xls"):
            out[src] = _xlsx_header(path)
        else:
            with path.open("rb") as fh:
                head = fh.read(HEAD_BYTES)
            if not head:  # the same refusal as extract's: nothing to detect, nothing to migrate
                raise InputError("empty file (0 bytes)", path=src)
            out[src] = _one(head, path.name, src, options)
            if not out[src] and path.suffix.lower() not in JSON_SUFFIXES:
                raise InputError("no header row: the file has only blank lines", path=src)
    return out


def _zip_headers(path: Path, options: ReadOptions) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or "__MACOSX" in name or Path(name).name.startswith("."):
                    continue
                if Path(name).suffix.lower() not in (*TEXT_SUFFIXES, *JSON_SUFFIXES):
                    continue
                label = f"{path}::{shown(name)}"
                if info.flag_bits & 0x1:
                    raise InputError(
                        "member is encrypted (password-protected): unzip it yourself", path=label
                    )
                try:
                    with zf.open(info) as fh:
                        head = fh.read(HEAD_BYTES)
                except zlib.error:
                    raise InputError("corrupt compressed data: the archive is damaged", path=label) from None
                except (zipfile.BadZipFile, RuntimeError, EOFError, ValueError, NotImplementedError) as exc:
                    raise InputError(f"corrupt archive member ({exc})", path=label) from None
                out[f"{path}::{name}"] = _one(head, name, f"{path}::{name}", options)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise InputError("not a readable ZIP archive", path=str(path)) from None
    if not out:
        raise InputError("ZIP holds no CSV/TSV/TXT/JSON member", path=str(path))
    return out
