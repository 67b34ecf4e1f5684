"""``read_sources``: files, folders and ZIP archives in, one ``ExtractResult`` out.

Dispatch is by extension, with the content having the last word where the extension lies: ``.zip`` (or
any file starting with a ZIP signature) is an archive — unless it holds ``xl/workbook.xml``, then it is a
spreadsheet; ``.xlsx``/``.xlsm``/``.xls`` → spreadsheet; ``.json`` → JSON; ``.ndjson``/``.jsonl`` → NDJSON;
anything else is delimited text (CSV, TSV, TXT, …) and gets encoding and dialect forensics.

Archives and folders (a Mailchimp audience export, zipped or extracted) are read member by member in
name order; a member's ``source_file`` is ``"<zip path>::<member name>"`` (the member name keeps its
folder inside the archive) or, for a folder, the member's own path. Members are unpacked into a private
temporary directory when the sources are opened (every header is known before any row is read) and
removed when reading ends.

Archives are hostile until proven otherwise: a member is streamed to a file named by a counter and its
extension (its own name never reaches the file system), counting every byte against the run's caps
(``--max-archive-size``, default 2 GiB in all; ``--max-archive-ratio``, default 200 — ``ReadOptions``),
and the run stops with one line (exit 2) the moment one is passed. A member whose name leaves the archive
(``../``, ``..\\``, ``/abs``, ``C:``), a hidden file or a file of another type is skipped and named with why
(a warning the commands print); a ZIP inside the ZIP is read one level deep (``outer.zip::inner.zip::a.csv``)
and a third level is skipped by name. A corrupt stream, a bad CRC or an encrypted member is one line
naming the archive and the member.

``open_sources`` is the streaming interface (``SourceStream``: headers first, then ``Batch``es with global
row ids); ``read_sources`` collects it into one ``ExtractResult`` for callers that want the whole frame.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

import polars as pl

from etl.errors import InputError
from etl.extract.delimited import DelimitedSource, restarting
from etl.extract.encoding import Choice
from etl.extract.excel import read_workbook
from etl.extract.jsonl import read_json, read_ndjson
from etl.extract.options import ReadOptions
from etl.extract.result import REC, REJECT_SCHEMA, ExtractResult, FileInfo, Part
from etl.frames import aligned
from etl.model import PROVENANCE, ROW_ID, SOURCE_FILE, SOURCE_LINE
from etl.terminal import printable

TEXT_EXT = frozenset({".csv", ".tsv", ".txt", ".tab"})
JSON_EXT = frozenset({".json"})
NDJSON_EXT = frozenset({".ndjson", ".jsonl"})
EXCEL_EXT = frozenset({".xlsx", ".xlsm", ".xls"})
MEMBER_EXT = TEXT_EXT | JSON_EXT | NDJSON_EXT | EXCEL_EXT
ZIP_MAGIC = b"PK\x03\x04"
R = TypeVar("R")


@dataclass(frozen=True)
class Batch:
    """A slice of one source in read order: ``frame`` holds PROVENANCE then that source's columns (all
    strings), ``rejects`` its structural rejects (``REJECT_SCHEMA``)."""

    frame: pl.DataFrame
    rejects: pl.DataFrame


class _Opened(Protocol):
    @property
    def info(self) -> FileInfo: ...

    def parts(self) -> Iterator[Part]: ...


class _Whole:
    """A source read whole on opening (JSON, NDJSON, spreadsheets): one part."""

    def __init__(self, part: Part) -> None:
        self._part = part
        self.info = replace(part.info, rows=0)

    def parts(self) -> Iterator[Part]:
        self.info = self._part.info
        yield self._part


class SourceStream:
    """Every source opened: headers (``files``, ``columns``) are known before any row is read, so the
    caller can plan its columns; ``batches`` then streams the rows with global ``row_id``s."""

    def __init__(self, opened: list[_Opened]) -> None:
        self._opened = opened

    @property
    def files(self) -> tuple[FileInfo, ...]:
        """Per source facts; ``rows`` are final once ``batches`` is exhausted."""
        return tuple(o.info for o in self._opened)

    @property
    def columns(self) -> list[str]:
        """Every source column in first-seen order (the order a diagonal concat of the sources gives)."""
        return list(dict.fromkeys(c for o in self._opened for c in o.info.header))

    def batches(self, progress: Callable[[int], None] | None = None) -> Iterator[Batch]:
        """Stream every source in order; ``progress`` gets each batch's record count."""
        offset = 0  # row ids before this source; a part's ``REC`` already counts from the source's start
        for opened in self._opened:
            for part in opened.parts():
                if progress is not None:
                    progress(part.info.rows)
                yield _numbered(part, offset)
            offset += opened.info.rows


@contextmanager
def open_sources(
    paths: Sequence[str | Path],
    encodings: Mapping[str, Choice] | None = None,
    options: ReadOptions | None = None,
) -> Iterator[SourceStream]:
    """Open every source (files, folders, ZIP archives): encodings, dialects and headers are settled,
    nothing else is read. ZIP members are unpacked and non-UTF-8 files transcoded into a private
    temporary directory, removed when the block ends. Raises ``InputError`` like ``read_sources``.

    Delimited files are taken for UTF-8 (unless ``options.encoding``, a BOM or ``encodings[label]`` says
    otherwise) and checked block by block: iterating may raise ``EncodingChanged`` — use
    ``stream_sources``, which restarts. ``options`` (``--encoding``, ``--delimiter``) apply to every file.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise InputError("no source file given")
    with tempfile.TemporaryDirectory(prefix="bme-extract-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        known = dict(encodings or {})
        opts = options or ReadOptions()
        opener = _Opener(workdir, stack, known, opts, ArchiveBudget(opts))
        opened = [o for p in paths for o in opener.path(Path(p))]
        yield SourceStream(opened)


def stream_sources(
    paths: Sequence[str | Path],
    consume: Callable[[SourceStream, Callable[[int], None] | None], R],
    progress: Callable[[int], None] | None = None,
    options: ReadOptions | None = None,
) -> R:
    """``consume(stream, progress)`` over the opened sources; when a file turns out not to be UTF-8 after
    rows of it were handed out, everything is opened again with that file's encoding and ``consume``
    starts over (rare: only a file that is valid UTF-8 for its first 16 MiB). ``consume`` must not keep
    state between calls other than what it returns, and should hand ``progress`` to ``batches``: rows
    read again after a restart are not counted twice."""
    counter = _Progress(progress) if progress is not None else None

    def attempt(encodings: Mapping[str, Choice]) -> R:
        with open_sources(paths, encodings, options) as stream:
            return consume(stream, counter)

    return restarting(attempt, counter.restart if counter is not None else None)


class _Progress:
    """Forwards row counts to ``report``, but only past the most rows any attempt has reported."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self._report = report
        self._shown = 0
        self._seen = 0

    def restart(self) -> None:
        self._seen = 0

    def __call__(self, rows: int) -> None:
        self._seen += rows
        if self._seen > self._shown:
            self._report(self._seen - self._shown)
            self._shown = self._seen


def read_sources(
    paths: Sequence[str | Path],
    *,
    progress: Callable[[int], None] | None = None,
    options: ReadOptions | None = None,
) -> ExtractResult:
    """Read every source in order into one raw frame (contract: ``etl.extract.result``).

    ``progress`` is called after each batch with the number of records it held, so a
    ``tqdm(total=…).update`` fits directly. Raises ``InputError`` for anything unreadable: missing file,
    empty (0-byte) file, binary file, unreadable or CSV-less ZIP, invalid declared encoding, bad JSON.
    """

    def collect(stream: SourceStream, counter: Callable[[int], None] | None) -> ExtractResult:
        batches = list(stream.batches(counter))
        return combine(batches, stream.files)

    return stream_sources(paths, collect, progress, options)


@dataclass
class _Opener:
    """What opening any one source needs, shared by the whole call: the private work directory, the stack
    that closes what was opened, the encodings settled so far, the user's options and the archive budget."""

    workdir: Path
    stack: ExitStack
    encodings: Mapping[str, Choice]
    options: ReadOptions
    budget: ArchiveBudget

    def path(self, path: Path) -> Iterator[_Opened]:
        """A file, a folder (every wanted file under it) or a ZIP archive."""
        if not path.exists():
            raise InputError("file not found", path=str(path))
        if path.is_dir():
            members = sorted(
                p for p in path.rglob("*") if p.is_file() and wanted_member(p.relative_to(path).parts)
            )
            if not members:
                raise InputError(
                    "folder holds no export file (" + " ".join(sorted(MEMBER_EXT)) + ")", path=str(path)
                )
            for member in members:
                yield from self.file(member, str(member))
            return
        if is_zip(path) and not is_workbook(path):
            yield from self.zip(path)
        else:
            yield from self.file(path, str(path))

    def file(self, path: Path, label: str, kind: str | None = None) -> list[_Opened]:
        """Open one plain file: one source, or one per sheet of a workbook (``etl.extract.excel``);
        ``kind`` overrides the FileInfo kind (``zip-member``)."""
        try:
            if path.stat().st_size == 0:
                raise InputError("empty file (0 bytes)", path=label)
            ext = path.suffix.lower()
            if ext in EXCEL_EXT or (ext not in JSON_EXT | NDJSON_EXT and is_zip(path) and is_workbook(path)):
                return [_Whole(_kind(p, kind)) for p in read_workbook(path, label)]
            elif ext in JSON_EXT:
                part = read_json(path, label, self.workdir, self.options.encoding)
            elif ext in NDJSON_EXT:
                part = read_ndjson(path, label, self.workdir, self.options.encoding)
            else:
                return [
                    DelimitedSource(
                        path,
                        label,
                        self.workdir,
                        self.stack,
                        kind or "csv",
                        self.encodings.get(label),
                        self.options,
                    )
                ]
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path=label) from None
        return [_Whole(_kind(part, kind))]

    def zip(self, path: Path, label: str | None = None, nested: bool = False) -> Iterator[_Opened]:
        """Unpack every wanted member (streamed to disk under a name of our own, one at a time, within
        ``budget``) and open it; members stay until the end. A ZIP inside the ZIP is read the same way, one
        level deep; every member left out is named, with why, in the first opened member's notes."""
        label = label or str(path)
        with open_archive(path, label) as zf:
            members, skipped = archive_members(zf, label, nested)
            first = True
            for info in members:
                member_label = f"{label}::{printable(info.filename)}"
                dst = self.workdir / f"{self.budget.next_id()}{safe_suffix(info.filename)}"
                extract_member(zf, info, dst, member_label, self.budget)
                if PurePosixPath(info.filename).suffix.lower() == ".zip":
                    inner = self.zip(dst, member_label, nested=True)
                    opened_inner = list(inner)
                    if first and skipped and opened_inner:
                        opened_inner[0] = _Noted(opened_inner[0], tuple(skipped))
                        first = False
                    yield from opened_inner
                    continue
                opened = self.file(dst, member_label, kind="zip-member")
                if first and skipped:
                    opened[0] = _Noted(opened[0], tuple(skipped))
                first = False
                yield from opened


def _kind(part: Part, kind: str | None) -> Part:
    """``part`` with its FileInfo kind overridden (``zip-member``), or as it is."""
    return part if kind is None else Part(part.frame, part.rejects, replace(part.info, kind=kind))


def wanted_member(parts: tuple[str, ...]) -> bool:
    """A member worth reading: a known extension, not hidden, not macOS resource-fork debris."""
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(parts[-1]).suffix.lower() in MEMBER_EXT


def is_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    if path.suffix.lower() in EXCEL_EXT:
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(4) == ZIP_MAGIC
    except OSError:
        return False


def is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def open_archive(path: Path, label: str) -> zipfile.ZipFile:
    """The ZIP at ``path``, or one ``InputError`` line naming ``label``."""
    try:
        zf = zipfile.ZipFile(path)
        zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable ZIP archive ({exc})", path=label) from None
    return zf


def archive_members(zf: zipfile.ZipFile, label: str, nested: bool) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The archive walk: the members to read, in name order, and a note (with why) for each one left out;
    ``InputError`` when nothing is left. Extract and the header reads of detection both walk this way."""
    members: list[zipfile.ZipInfo] = []
    skipped: list[str] = []
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        why = _skip_reason(info, nested)
        if why is None:
            members.append(info)
        elif why:
            skipped.append(f"{label}: skipped member {printable(info.filename)} ({why})")
    if not members:
        why = (
            "; skipped " + "; ".join(n.split(": skipped member ", 1)[1] for n in skipped[:5])
            if skipped
            else ""
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        raise InputError(f"ZIP archive holds no CSV/TSV/TXT/JSON/XLSX member{why}{more}", path=label)
    return members, skipped


def _skip_reason(info: zipfile.ZipInfo, nested: bool) -> str | None:
    """Why a member is not read ("" for folders and macOS debris, left out without a word), or ``None``."""
    name = info.filename
    if info.is_dir():
        return ""
    parts = [p for p in name.replace("\\", "/").split("/")]
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        return "its name points outside the archive"
    if any(p == "__MACOSX" for p in parts) or PurePosixPath(parts[-1]).name.startswith("._"):
        return ""
    if any(p.startswith(".") for p in parts if p):
        return "hidden file"
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix == ".zip":
        return "an archive inside an archive inside an archive is not read" if nested else None
    if suffix not in MEMBER_EXT:
        return "not an export file type (" + " ".join(sorted(MEMBER_EXT)) + ")"
    return None


def safe_suffix(name: str) -> str:
    """The member's extension, if it is one we read: the only part of a member name used on disk."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if suffix in MEMBER_EXT | {".zip"} else ""


class ArchiveBudget:
    """What the archives of one run may still expand to (``--max-archive-size``/``--max-archive-ratio``)."""

    def __init__(self, options: ReadOptions) -> None:
        self.limit = options.max_archive_size
        self.ratio = options.max_archive_ratio
        self.used = 0
        self._ids = 0

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def spend(self, n: int, member_out: int, member_in: int, label: str) -> None:
        """Count ``n`` more bytes written; ``InputError`` as soon as a cap is passed."""
        self.used += n
        if self.used > self.limit:
            raise InputError(
                f"archive expands past {_size(self.limit)} (--max-archive-size, $BME_MAX_ARCHIVE_SIZE): "
                "stopped; raise the cap if the export is really that large, or unzip it yourself",
                path=label,
            )
        if member_out > 1 << 20 and member_out > self.ratio * max(member_in, 1):
            raise InputError(
                f"member expands more than {self.ratio:g} times its compressed size "
                f"({member_in} bytes compressed; --max-archive-ratio, $BME_MAX_ARCHIVE_RATIO): stopped, "
                "it looks like a ZIP bomb; raise the cap if the export is genuine",
                path=label,
            )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: Path, label: str, budget: ArchiveBudget
) -> None:
    """Stream one member to ``dst``, counting every byte against ``budget``; one line for any failure."""
    written = 0
    with _member_errors(info, label), zf.open(info) as src, dst.open("wb") as out:
        while block := src.read(1 << 20):
            written += len(block)
            budget.spend(len(block), written, info.compress_size, label)
            out.write(block)


def member_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limit: int) -> bytes:
    """The first ``limit`` bytes of a member (detection reads no more), with extract's failure lines."""
    with _member_errors(info, label), zf.open(info) as src:
        return src.read(limit)


@contextmanager
def _member_errors(info: zipfile.ZipInfo, label: str) -> Iterator[None]:
    """Reading a member: an encrypted one, a corrupt stream or a full disk is one line naming it."""
    if info.flag_bits & 0x1:
        raise InputError(
            "member is encrypted (password-protected): unzip it yourself and pass the files", path=label
        )
    try:
        yield
    except zlib.error:
        raise InputError(
            "corrupt compressed data: the archive is damaged, export it again", path=label
        ) from None
    except NotImplementedError as exc:
        raise InputError(f"cannot extract member: {exc}", path=label) from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as exc:
        raise InputError(f"corrupt archive member ({exc}): export it again", path=label) from None
    except OSError as exc:
        raise InputError(f"cannot extract member: {exc.strerror or exc}", path=label) from None


class _Noted:
    """An opened source whose ``info`` carries extra notes (the archive's skipped members)."""

    def __init__(self, inner: _Opened, notes: tuple[str, ...]) -> None:
        self._inner = inner
        self._notes = notes

    @property
    def info(self) -> FileInfo:
        info = self._inner.info
        return replace(info, notes=self._notes + info.notes)

    def parts(self) -> Iterator[Part]:
        return self._inner.parts()


def _numbered(part: Part, offset: int) -> Batch:
    """A part with global row ids (``REC`` + ``offset``) and its source label; provenance first."""
    ids = (pl.col(REC) + offset).cast(pl.Int64).alias(ROW_ID)
    # the label gets the frame's chunk layout: a frame whose columns' layouts differ is rechunked
    # (every string copied) by polars' filters, and validate filters this frame's columns
    like = part.frame.get_column(REC)
    label = aligned(pl.repeat(part.info.path, like.len(), dtype=pl.String, eager=True), like)
    frame = part.frame.with_columns(ids, label.alias(SOURCE_FILE), pl.col(SOURCE_LINE).cast(pl.Int64))
    first = [frame.columns.index(c) for c in PROVENANCE]
    # pl.nth, never names: a source header may be "*" or "^…$", which polars reads as a pattern
    rest = [i for i, c in enumerate(frame.columns) if c not in PROVENANCE and c != REC]
    frame = frame.select(pl.nth([*first, *rest]))
    rejects = (
        part.rejects.with_columns(ids, pl.lit(part.info.path, dtype=pl.String).alias(SOURCE_FILE))
        .drop(REC)
        .select(list(REJECT_SCHEMA))
        .cast(REJECT_SCHEMA)
    )
    return Batch(frame, rejects)


def combine(batches: Sequence[Batch], files: tuple[FileInfo, ...]) -> ExtractResult:
    """Stack batches diagonally into one ``ExtractResult`` (row ids are already global)."""
    frames = [b.frame for b in batches]
    if frames:
        frame = pl.concat(frames, how="diagonal")
    else:
        frame = pl.DataFrame(schema={ROW_ID: pl.Int64, SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64})
    rejects = [b.rejects for b in batches]
    rej = pl.concat(rejects, how="vertical") if rejects else pl.DataFrame(schema=REJECT_SCHEMA)
    return ExtractResult(frame=frame, rejects=rej.cast(REJECT_SCHEMA), files=files)
