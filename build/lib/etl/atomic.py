"""Files that are replaced whole or not at all: reports and state files.

A report written in place and cut short (a full disk, a kill) leaves a half page next to the previous
run's other files, and nobody can tell. Here every file is written to a temporary file in its own directory
(same filesystem, so the rename is atomic), synced, and only when *every* file of the group is complete are
they moved over the old ones with ``os.replace``. A failure leaves the previous files as they were and no
temporary file behind.

Bytes go out through ``os.write`` (a raw file under a ``BufferedWriter``), so a short disk behaves the same
for text we render and for a CSV polars streams into the file object.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from etl.errors import ConfigError

Writer = Callable[[BinaryIO], None]
BUFFER = 1 << 20


class _FdFile(io.RawIOBase):
    """A raw, write-only view of a file descriptor; ``fileno`` is not exposed so every byte goes through
    ``write`` (a writer must not bypass the buffer and our error handling)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return os.write(self._fd, data)


def _temp_for(path: Path) -> tuple[Path, int]:
    """A new hidden file beside ``path`` (``O_EXCL``: never someone else's), mode as an ordinary file."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def write_atomically(files: Sequence[tuple[Path, Writer]]) -> None:
    """Write every ``(path, writer)`` to a temporary file, then replace all of them; on any error, none.

    The group is replaced in order once every file is written and synced, so a failure while writing
    (the usual one: a full disk) leaves the previous group intact; it is raised as one ``ConfigError``
    line naming the file.
    """
    written: list[tuple[Path, Path]] = []
    current = Path()
    try:
        for path, writer in files:
            current = path
            temp, fd = _temp_for(path)
            written.append((temp, path))
            try:
                with io.BufferedWriter(cast(io.RawIOBase, _FdFile(fd)), BUFFER) as fh:
                    writer(cast(BinaryIO, fh))
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException as exc:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            kept = "files are" if len(files) > 1 else "file is"
            raise ConfigError(
                f"cannot write {current} ({exc.strerror or exc}); the previous {kept} unchanged"
            ) from None
        raise
    for temp, path in written:
        os.replace(temp, path)


def write_text_atomically(path: Path, text: str) -> None:
    """``path.write_text(text, encoding="utf-8")``, replaced whole or not at all."""
    write_atomically([(path, text_writer(text))])


def text_writer(text: str) -> Writer:
    """A ``Writer`` of ``text`` as UTF-8."""
    data = text.encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write


def writable_dir(path: Path, what: str = "report dir") -> None:
    """Fail early, with one line naming ``path``, if files cannot be written into it: a run must not
    discover it after spending its requests. Probed by writing a file into ``path`` or, when it does not
    exist yet, into its nearest existing parent (nothing is created, so a run that stops early leaves no
    empty directory); permission bits alone would not tell (root, read-only mounts)."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    hint = " with --report-dir" if what == "report dir" else ""
    if not probe.is_dir():
        raise ConfigError(
            f"cannot write to {what} {path} ({probe} is not a directory): choose another one{hint}"
        )
    try:
        temp, fd = _temp_for(probe / ".bme-migrate-probe")
        os.close(fd)
        temp.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {what} {path} ({exc.strerror or exc}): choose a writable one{hint}"
        ) from None
