"""``read_sources``: files, folders and ZIP archives in, one ``ExtractResult`` out.

Dispatch is by extension, with the content having the last word where the extension lies: ``.zip`` (or
any file starting with a ZIP signature) is an archive — unless it holds ``xl/workbook.xml``, then it is a
spreadsheet; ``.xlsx``/``.xlsm``/``.xls`` → spreadsheet; ``.json`` → JSON; ``.ndjson``/``.jsonl`` → NDJSON;
anything else is delimited text (CSV, TSV, TXT, …) and gets encoding and dialect forensics.

Archives and folders (a Mailchimp audience export, zipped or extracted) are read member by member in
name order; a member's ``source_file`` is ``"<zip path>::<member name>"`` (the member name keeps its
folder inside the archive) or, for a folder, the member's own path. Members are extracted one at a time
into a private temporary directory that is removed when reading ends.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

import polars as pl

from etl.errors import InputError
from etl.extract.delimited import aligned, read_delimited
from etl.extract.excel import read_excel
from etl.extract.jsonl import read_json, read_ndjson
from etl.extract.result import REC, REJECT_SCHEMA, ExtractResult, Part
from etl.model import PROVENANCE, ROW_ID, SOURCE_FILE, SOURCE_LINE

TEXT_EXT = frozenset({".csv", ".tsv", ".txt", ".tab"})
JSON_EXT = frozenset({".json"})
NDJSON_EXT = frozenset({".ndjson", ".jsonl"})
EXCEL_EXT = frozenset({".xlsx", ".xlsm", ".xls"})
MEMBER_EXT = TEXT_EXT | JSON_EXT | NDJSON_EXT | EXCEL_EXT
ZIP_MAGIC = b"PK\x03\x04"


def read_sources(
    paths: Sequence[str | Path], *, progress: Callable[[int], None] | None = None
) -> ExtractResult:
    """Read every source in order into one raw frame (contract: ``etl.extract.result``).

    ``progress`` is called after each file or archive member with the number of records it held, so a
    ``tqdm(total=…).update`` fits directly. Raises ``InputError`` for anything unreadable: missing file,
    empty (0-byte) file, binary file, unreadable or CSV-less ZIP, invalid declared encoding, bad JSON.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise InputError("no source file given")
    parts: list[Part] = []
    with tempfile.TemporaryDirectory(prefix="bme-extract-") as tmp:
        workdir = Path(tmp)
        for p in paths:
            for part in _read_path(Path(p), workdir):
                parts.append(part)
                if progress is not None:
                    progress(part.info.rows)
    return combine(parts)


def _read_path(path: Path, workdir: Path) -> Iterator[Part]:
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        members = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.relative_to(path).parts))
        if not members:
            raise InputError(
                "folder holds no export file (" + " ".join(sorted(MEMBER_EXT)) + ")", path=str(path)
            )
        for member in members:
            yield _read_file(member, str(member), workdir)
        return
    if _is_zip(path) and not _is_workbook(path):
        yield from _read_zip(path, workdir)
    else:
        yield _read_file(path, str(path), workdir)


def _wanted(parts: tuple[str, ...]) -> bool:
    """A member worth reading: a known extension, not hidden, not macOS resource-fork debris."""
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(parts[-1]).suffix.lower() in MEMBER_EXT


def _is_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    if path.suffix.lower() in EXCEL_EXT:
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(4) == ZIP_MAGIC
    except OSError:
        return False


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _read_file(path: Path, label: str, workdir: Path, kind: str | None = None) -> Part:
    """Read one plain file; ``kind`` overrides the FileInfo kind (``zip-member``)."""
    try:
        if path.stat().st_size == 0:
            raise InputError("empty file (0 bytes)", path=label)
        ext = path.suffix.lower()
        if ext in EXCEL_EXT or (ext not in JSON_EXT | NDJSON_EXT and _is_zip(path) and _is_workbook(path)):
            part = read_excel(path, label)
        elif ext in JSON_EXT:
            part = read_json(path, label, workdir)
        elif ext in NDJSON_EXT:
            part = read_ndjson(path, label, workdir)
        else:
            part = read_delimited(path, label, workdir)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=label) from None
    if kind is None:
        return part
    return Part(part.frame, part.rejects, replace(part.info, kind=kind))


def _read_zip(path: Path, workdir: Path) -> Iterator[Part]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable ZIP archive ({exc})", path=str(path)) from None
    with zf:
        members = sorted(
            (i for i in zf.infolist() if not i.is_dir() and _wanted(PurePosixPath(i.filename).parts)),
            key=lambda i: i.filename,
        )
        if not members:
            raise InputError("ZIP archive holds no CSV/TSV/TXT/JSON/XLSX member", path=str(path))
        for n, info in enumerate(members):
            label = f"{path}::{info.filename}"
            dst = workdir / f"{n}_{PurePosixPath(info.filename).name}"
            try:
                with zf.open(info) as src, dst.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
                raise InputError(f"cannot extract member ({exc})", path=label) from None
            try:
                yield _read_file(dst, label, workdir, kind="zip-member")
            finally:
                dst.unlink(missing_ok=True)


def combine(parts: Sequence[Part]) -> ExtractResult:
    """Number every record across parts in read order and stack the parts diagonally."""
    frames: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    offset = 0
    for part in parts:
        ids = (pl.col(REC) + offset).cast(pl.Int64).alias(ROW_ID)
        # the label gets the frame's chunk layout: a frame whose columns' layouts differ is rechunked
        # (every string copied) by polars' filters, and validate filters this frame's columns
        like = part.frame.get_column(REC)
        label = aligned(pl.repeat(part.info.path, like.len(), dtype=pl.String, eager=True), like)
        frames.append(part.frame.with_columns(ids, label.alias(SOURCE_FILE)).drop(REC))
        rejects.append(
            part.rejects.with_columns(ids, pl.lit(part.info.path, dtype=pl.String).alias(SOURCE_FILE))
            .drop(REC)
            .select(list(REJECT_SCHEMA))
        )
        offset += part.info.rows
    if frames:
        frame = pl.concat(frames, how="diagonal")
        first = [frame.columns.index(c) for c in PROVENANCE]
        # pl.nth, never names: a source header may be "*" or "^…$", which polars reads as a pattern
        frame = frame.select(pl.nth([*first, *(i for i in range(frame.width) if i not in first)]))
        frame = frame.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64))
    else:
        frame = pl.DataFrame(schema={ROW_ID: pl.Int64, SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64})
    rej = pl.concat(rejects, how="vertical") if rejects else pl.DataFrame(schema=REJECT_SCHEMA)
    return ExtractResult(frame=frame, rejects=rej.cast(REJECT_SCHEMA), files=tuple(p.info for p in parts))
