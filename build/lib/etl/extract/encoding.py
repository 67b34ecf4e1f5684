"""Encoding forensics: decide how a text export is encoded and hand the parser a UTF-8 file.

Policy (the order matters):

1. A BOM is a declaration. ``EF BB BF`` → UTF-8, ``FF FE`` → UTF-16 LE, ``FE FF`` → UTF-16 BE. A file that
   declares an encoding but is invalid in it is an ``InputError`` naming the first bad line and byte — it
   is never guessed past, because a half-right guess silently corrupts names.
2. No BOM, but NUL bytes laid out like UTF-16 text in the first block → UTF-16 without BOM. Any other NUL
   byte means the file is binary (``InputError``).
3. Otherwise the *whole* file is validated as UTF-8, incrementally (fixed-size chunks, never the whole
   file in memory). Valid → UTF-8. Invalid → the file is in a legacy code page, and which one is decided by
   ``etl.extract.charsets`` (charset-normalizer's mess ratio and a word plausibility check) over a bounded
   sample: the lines holding non-ASCII bytes in the first 256 KiB (at most 64 KiB of them) and the lines
   around the first invalid byte, wherever it is. Sure enough → that encoding, reported with how sure
   (``Choice.note``). Not sure → ``InputError`` naming the line and the first suspicious bytes, and asking
   for ``--encoding``: a wrong code page would corrupt every name silently. A file whose sampled
   accented lines are mostly UTF-8 but not all (a UTF-8 export with one line pasted from a cp1252 file) is
   *mixed*: refused, naming the first line that is not UTF-8 — read as one code page, every UTF-8 accent
   would turn into ``Ã©``.
   For delimited files the first validation is done by polars while the line scan reads each block
   (``etl.extract.linescan``); ``scan_encoding`` only runs when that fails, to locate and classify.
4. ``--encoding NAME`` (``given``) replaces all of this for every file of the run; a UTF-8 or UTF-16 BOM
   matching the given encoding is still skipped.

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
from etl.extract.charsets import guess_encoding

CHUNK = 1 << 22  # 4 MiB: large enough to be fast, small enough to never matter for memory
SNIFF = 1 << 16
DETECT_HEAD = 256 << 10  # where the detector's sample lines come from, besides the first invalid byte
DETECT_CAP = 64 << 10  # the most bytes of those lines the detector judges
AROUND = 8 << 10  # bytes read on each side of the first invalid byte (cut to whole lines)
CLOSE = 0.95  # below this a detected encoding's warning names the runner-up
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextSource:
    """A UTF-8 view of one input: ``path`` is the original file when it already was UTF-8."""

    path: Path  # UTF-8 bytes (possibly still starting with a UTF-8 BOM: the reader strips it)
    encoding: str  # what the original was: utf-8, utf-16-le, utf-16-be, or a legacy code page (cp1252 …)
    bom: bool
    transcoded: bool


@dataclass(frozen=True)
class Choice:
    """An encoding and how it was chosen: ``given`` (--encoding), ``bom``, ``utf-8`` (valid throughout),
    ``nul-pattern`` (UTF-16 without BOM) or ``detected`` (with ``confidence``, 0–1)."""

    encoding: str
    how: str
    confidence: float | None = None
    runner_up: str | None = None  # the next best decoding, named in the warning when it was close

    def note(self, label: str) -> str | None:
        """The warning line a command prints for a guessed encoding; ``None`` when nothing was guessed."""
        if self.how == "detected":
            sure = f"{self.confidence:.0%} sure" if self.confidence is not None else "detected"
            if self.runner_up and self.confidence is not None and self.confidence < CLOSE:
                sure += f"; {self.runner_up} would read differently"
            return (
                f"{label}: not UTF-8; read as {self.encoding} (detected, {sure}); "
                "--encoding NAME reads it otherwise"
            )
        if self.how == "nul-pattern":
            return f"{label}: read as {self.encoding.upper()} without a BOM (detected by its NUL bytes)"
        return None


def encoding_name(name: str) -> str | None:
    """Python's canonical name of an encoding (``Shift_JIS`` → ``shift_jis``), or ``None`` if unknown."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def given_encoding(path: Path, name: str) -> tuple[str, int]:
    """(codec name, bytes to skip) for ``--encoding name``: a BOM of that same encoding is skipped."""
    codec = encoding_name(name) or name
    with path.open("rb") as fh:
        head = fh.read(4)
    declared, bom_len = detect_bom(head)
    if declared is not None and (codec == declared or (codec == "utf-16" and declared.startswith("utf-16"))):
        return declared, bom_len
    return codec, 0


def detect_bom(head: bytes) -> tuple[str | None, int]:
    """The encoding a BOM declares and the BOM's length, or ``(None, 0)``."""
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc, len(bom)
    return None, 0


def utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NULs sit (almost) only on odd/even byte positions, as in UTF-16 text with
    ASCII delimiters and addresses. A few NULs on the other side are characters like U+4E00 (一), whose
    low byte is 0 — common in Japanese and Chinese names."""
    sample = head[: len(head) & ~1]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls >= half * 0.3 and even_nuls <= odd_nuls * 0.05:
        return "utf-16-le"
    if even_nuls >= half * 0.3 and odd_nuls <= even_nuls * 0.05:
        return "utf-16-be"
    return None


def position(path: Path, offset: int) -> tuple[int, int]:
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
        guessed = utf16_without_bom(head)
        if guessed:
            return guessed, 0
        nul = head.index(b"\x00")
        line, col = position(path, nul)
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


def scan_encoding(path: Path, label: str, declared: str | None, bom_len: int) -> Choice:
    """Whole-file verdict for a file that is not UTF-16: UTF-8, or the legacy code page the detector is
    sure of (see the module docstring).

    Streams the file twice at most (NUL search, UTF-8 validation) and reads a bounded sample for the
    detector; raises for binary files, for a UTF-8 BOM followed by invalid UTF-8, and when the detector is
    not sure.
    """
    nul = find_nul(path)
    if nul is not None:
        line, col = position(path, nul)
        raise InputError(
            f"binary file: NUL byte at offset {nul}, not a text export", path=label, line=line, column=col
        )
    err = first_utf8_error(path, bom_len)
    if err is None:
        return Choice("utf-8", "bom" if declared == "utf-8" else "utf-8")
    offset, reason = err
    if declared == "utf-8":
        line, col = position(path, offset)
        raise InputError(
            f"file starts with a UTF-8 BOM but has invalid UTF-8 at byte offset {offset} "
            f"({reason}); re-export it as UTF-8",
            path=label,
            line=line,
            column=col,
        )
    return detect_legacy(path, label, offset)


def detect_legacy(path: Path, label: str, bad: int) -> Choice:
    """The legacy code page of a file whose first invalid UTF-8 byte is at offset ``bad``; ``InputError``
    (naming that line and its bytes, suggesting ``--encoding``) when the detector is not sure."""
    sample, suspicious = detection_sample(path, bad)
    if mixed(sample):
        line, col = position(path, bad)
        raise InputError(
            f"mixed encodings: most accented lines are UTF-8, but this one is not (bytes "
            f"{suspicious[:4].hex(' ')} at byte offset {bad}); reading the file in one legacy code page "
            "would garble every UTF-8 accent. Fix that line (re-save the file as UTF-8), or pass "
            "--encoding NAME to read every line in one encoding",
            path=label,
            line=line,
            column=col,
        )
    guess = guess_encoding(sample)
    if guess.sure:
        return Choice(guess.encoding, "detected", guess.confidence, guess.runner_up)
    line, col = position(path, bad)
    message = unsure_message(bad, suspicious, guess.encoding, guess.confidence, guess.runner_up)
    raise InputError(message, path=label, line=line, column=col)


MIXED_SHARE = 0.25  # UTF-8 lines among the accented lines sampled from which a file is "mixed"


def mixed(sample: bytes) -> bool:
    """Whether the detector's sample (its lines holding non-ASCII bytes) is UTF-8 text with a few lines in
    another encoding: at least two lines, and a quarter of them, decode as UTF-8. A file wholly in a
    legacy code page is valid UTF-8 on a non-ASCII line only by chance (a byte pair like ``Ã©`` or two
    half-width katakana), far below that share, so only files that really mix are refused."""
    lines = [line for line in sample.split(b"\n") if not line.isascii()]
    utf8 = 0
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        utf8 += 1
    return utf8 >= 2 and utf8 >= MIXED_SHARE * len(lines) and utf8 < len(lines)


def unsure_message(
    offset: int, suspicious: bytes, best: str, confidence: float, runner_up: str | None
) -> str:
    """The one line that stops a run whose encoding cannot be told (the caller adds file, line, column)."""
    other = f" (or {runner_up})" if runner_up else ""
    return (
        f"not UTF-8, and its encoding cannot be told for sure: the first non-UTF-8 bytes, at byte offset "
        f"{offset}, are {suspicious.hex(' ')}; the best guess, {best}{other}, is only {confidence:.0%} "
        f"sure. Re-run with --encoding NAME (e.g. --encoding {best})"
    )


def detection_sample(path: Path, bad: int) -> tuple[bytes, bytes]:
    """What the detector judges, and the first bytes at offset ``bad`` (for the error message).

    The lines with non-ASCII bytes among the first ``DETECT_HEAD`` bytes (at most ``DETECT_CAP`` of them)
    and the text around ``bad``: bounded, so a 10 GB export costs what a small one does.
    """
    with path.open("rb") as fh:
        head = fh.read(DETECT_HEAD)
        start = max(0, bad - AROUND)
        fh.seek(start)
        near = fh.read(bad - start + AROUND)
    suspicious = near[bad - start : bad - start + 8]
    if len(head) == DETECT_HEAD:
        head = head[: _safe_cut(head, len(head), from_end=True)]
    lines, reached = non_ascii_lines(head, DETECT_CAP)
    if bad >= reached:  # the first invalid byte's own text is not among the lines above: add it
        begin = _safe_cut(near, bad - start, from_end=False) if start > 0 else 0
        end = _safe_cut(near, len(near), from_end=True) if len(near) == bad - start + AROUND else len(near)
        lines += non_ascii_lines(near[begin:end], DETECT_CAP)[0]
    return b"\n".join(lines), suspicious


def _safe_cut(data: bytes, limit: int, *, from_end: bool) -> int:
    """Where to cut ``data`` so no multi-byte character is split: after the last newline before ``limit``
    (``from_end``) or after the first one (else); failing a newline, at a space, comma, semicolon or tab —
    bytes that are never the second byte of a Shift_JIS, GBK/GB18030, Big5 or EUC character."""
    for seps in ((b"\n",), (b" ", b",", b";", b"\t")):
        if from_end:
            at = max(data.rfind(s, 0, limit) for s in seps)
        else:
            found = [i for s in seps if (i := data.find(s, 0, limit)) >= 0]
            at = min(found) if found else -1
        if at >= 0:
            return at + 1
    return 0 if not from_end else limit


def non_ascii_lines(data: bytes, cap: int) -> tuple[list[bytes], int]:
    """The lines of ``data`` holding a non-ASCII byte (up to about ``cap`` bytes of them), and the offset
    in ``data`` up to which lines were looked at."""
    out: list[bytes] = []
    size = offset = 0
    for line in data.split(b"\n"):
        offset += len(line) + 1
        if not line.isascii():
            out.append(line.rstrip(b"\r"))
            size += len(line) + 1
            if size >= cap:
                return out, offset
    return out, max(offset, len(data))


def sniff_encoding(path: Path, label: str, given: str | None = None) -> tuple[str, int]:
    """(encoding, BOM length) by the whole policy in the module docstring; no transcoding."""
    if given is not None:
        return given_encoding(path, given)
    declared, bom_len = head_encoding(path, label)
    if declared and declared.startswith("utf-16"):
        return declared, bom_len
    return scan_encoding(path, label, declared, bom_len).encoding, bom_len


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
