"""Encoding forensics: decide how a text export is encoded and hand the parser a UTF-8 file.

Policy (the order matters):

1. A BOM is a declaration. ``EF BB BF`` → UTF-8, ``FF FE`` → UTF-16 LE, ``FE FF`` → UTF-16 BE. A file that
   declares an encoding but is invalid in it is an ``InputError`` naming the first bad line and byte — it
   is never guessed past, because a half-right guess silently corrupts names.
2. No BOM, but NUL bytes laid out like UTF-16 text in the first block → UTF-16 without BOM. Any other NUL
   byte means the file is binary (``InputError``).
3. Otherwise the *whole* file is validated as UTF-8, incrementally (fixed-size chunks, never the whole
   file in memory). Valid → UTF-8. Invalid → cp1252, the Windows default that Excel and old exports use;
   latin-1 only if cp1252 cannot decode it (bytes 81, 8D, 8F, 90, 9D are undefined in cp1252).
   For delimited files the first validation is done by polars while the line scan reads each block
   (``etl.extract.linescan``); ``scan_encoding`` only runs when that fails, to locate and classify.

Anything that is not UTF-8 is transcoded, streaming, into a temporary UTF-8 file, because the fast CSV
parser (polars) reads UTF-8 only. The caller owns the temporary directory (see ``utf8_source``).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from etl.errors import InputError

CHUNK = 1 << 22  # 4 MiB: large enough to be fast, small enough to never matter for memory
SNIFF = 1 << 16
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextSource:
    """A UTF-8 view of one input: ``path`` is the original file when it already was UTF-8."""

    path: Path  # UTF-8 bytes (possibly still starting with a UTF-8 BOM: the reader strips it)
    encoding: str  # what the original was: utf-8, utf-16-le, utf-16-be, cp1252, latin-1
    bom: bool
    transcoded: bool


def detect_bom(head: bytes) -> tuple[str | None, int]:
    """The encoding a BOM declares and the BOM's length, or ``(None, 0)``."""
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc, len(bom)
    return None, 0


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NULs sit only on odd/even byte positions, as in mostly-ASCII UTF-16."""
    sample = head[: len(head) & ~1]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls >= half * 0.3 and even_nuls == 0:
        return "utf-16-le"
    if even_nuls >= half * 0.3 and odd_nuls == 0:
        return "utf-16-be"
    return None


def _position(path: Path, offset: int) -> tuple[int, int]:
    """1-based (line, byte column) of a byte offset, found by counting newlines in a second pass."""
    line, last_nl = 1, -1
    done = 0
    with path.open("rb") as fh:
        while done < offset:
            block = fh.read(min(CHUNK, offset - done))
            if not block:
                break
            n = block.count(b"\n")
            if n:
                line += n
                last_nl = done + block.rindex(b"\n")
            done += len(block)
    return line, offset - last_nl


def first_utf8_error(path: Path, start: int = 0) -> tuple[int, str] | None:
    """Byte offset and reason of the first invalid UTF-8 sequence (streaming), or ``None`` if valid."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = start
    with path.open("rb") as fh:
        fh.seek(start)
        while True:
            block = fh.read(CHUNK)
            final = not block
            try:
                decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the decoder's pending bytes + this block
                pending = len(exc.object) - len(block)
                return offset - pending + exc.start, exc.reason
            if final:
                return None
            offset += len(block)


def find_nul(path: Path) -> int | None:
    """Byte offset of the first NUL byte, streaming; ``None`` when there is none."""
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            i = block.find(b"\x00")
            if i >= 0:
                return offset + i
            offset += len(block)
    return None


def transcode(src: Path, dst: Path, encoding: str, skip: int, label: str) -> None:
    """Stream ``src`` (minus a ``skip``-byte BOM) from ``encoding`` into UTF-8 at ``dst``.

    Raises ``InputError`` at the first undecodable sequence with its line and character column, counted
    in decoded text (byte-counting newlines would be wrong for UTF-16).
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset, lines_done, tail = skip, 0, ""
    with src.open("rb") as fin, dst.open("wb") as fout:
        fin.seek(skip)
        while True:
            block = fin.read(CHUNK)
            final = not block
            try:
                text = decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(block)
                prefix = tail + exc.object[: exc.start].decode(encoding, "replace")
                line = lines_done + prefix.count("\n") + 1
                col = len(prefix) - (prefix.rfind("\n") + 1) + 1
                raise InputError(
                    f"invalid {encoding.upper()} data at byte offset {offset - pending + exc.start} "
                    f"({exc.reason})",
                    path=label,
                    line=line,
                    column=col,
                ) from None
            if "\x00" in text:
                raise InputError(
                    f"binary file: NUL character in {encoding.upper()} text near byte offset {offset}",
                    path=label,
                )
            fout.write(text.encode("utf-8"))
            if final:
                return
            lines_done += text.count("\n")
            tail = text[text.rfind("\n") + 1 :] if "\n" in text else tail + text
            offset += len(block)


def head_encoding(path: Path, label: str) -> tuple[str | None, int]:
    """What the first block alone proves: (encoding or ``None`` if undecided, BOM length).

    Raises for an empty file, binary-looking first block and CR-only line endings.
    """
    with path.open("rb") as fh:
        head = fh.read(SNIFF)
    if not head:
        raise InputError("empty file (0 bytes)", path=label)
    declared, bom_len = detect_bom(head)
    if declared and declared.startswith("utf-16"):
        return declared, bom_len
    if declared is None and b"\x00" in head:
        guessed = _utf16_without_bom(head)
        if guessed:
            return guessed, 0
        nul = head.index(b"\x00")
        line, col = _position(path, nul)
        raise InputError(
            f"binary file: NUL byte at offset {nul}, not a text export", path=label, line=line, column=col
        )
    if b"\n" not in head and b"\r" in head:
        raise InputError(
            "old Mac line endings (CR only) are not supported: re-save the file as CSV with "
            "Windows or Unix line endings",
            path=label,
        )
    return declared, bom_len


def scan_encoding(path: Path, label: str, declared: str | None, bom_len: int) -> str:
    """Whole-file verdict for a file that is not UTF-16: ``utf-8``, ``cp1252`` or ``latin-1``.

    Streams the file twice at most (NUL search, UTF-8 validation); raises for binary files and for a
    UTF-8 BOM followed by invalid UTF-8.
    """
    nul = find_nul(path)
    if nul is not None:
        line, col = _position(path, nul)
        raise InputError(
            f"binary file: NUL byte at offset {nul}, not a text export", path=label, line=line, column=col
        )
    err = first_utf8_error(path, bom_len)
    if err is None:
        return "utf-8"
    if declared == "utf-8":
        offset, reason = err
        line, col = _position(path, offset)
        raise InputError(
            f"file starts with a UTF-8 BOM but has invalid UTF-8 at byte offset {offset} "
            f"({reason}); re-export it as UTF-8",
            path=label,
            line=line,
            column=col,
        )
    return "cp1252" if _decodes(path, "cp1252") else "latin-1"


def sniff_encoding(path: Path, label: str) -> tuple[str, int]:
    """(encoding, BOM length) by the whole policy in the module docstring; no transcoding."""
    declared, bom_len = head_encoding(path, label)
    if declared and declared.startswith("utf-16"):
        return declared, bom_len
    return scan_encoding(path, label, declared, bom_len), bom_len


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as fh:
        try:
            while block := fh.read(CHUNK):
                decoder.decode(block)
            decoder.decode(b"", True)
        except UnicodeDecodeError:
            return False
    return True


@contextmanager
def utf8_source(path: Path, workdir: Path, label: str, encoding: str, bom_len: int) -> Iterator[TextSource]:
    """Yield a UTF-8 version of ``path`` in ``encoding``; a transcoded copy in ``workdir`` is removed after."""
    if encoding == "utf-8":
        yield TextSource(path, "utf-8", bom_len > 0, False)
        return
    dst = workdir / (path.name + ".utf8")
    transcode(path, dst, encoding, bom_len, label)
    try:
        yield TextSource(dst, encoding, bom_len > 0, True)
    finally:
        dst.unlink(missing_ok=True)
