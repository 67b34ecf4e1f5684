"""``ReadOptions``: what the user says about every text source of a run, overriding detection.

``--encoding NAME`` and ``--delimiter CHAR`` exist for the files detection gets wrong or cannot decide
(a short file in an ambiguous code page stops the run and asks for ``--encoding``). They apply to every
delimited file of the run (and ``encoding`` to JSON/NDJSON too); spreadsheets are not text.

``--max-archive-size BYTES`` and ``--max-archive-ratio N`` bound what ZIP archives may expand to (a ZIP
bomb of a few MB must not fill the disk or the memory): every member is streamed to a temporary file and
the run stops (exit 2) as soon as all members together pass ``max_archive_size`` uncompressed bytes
(default 2 GiB) or a member past its first MiB expands more than ``max_archive_ratio`` times its
compressed size (default 200; real CSV exports compress 5–20 times). The environment variables
``BME_MAX_ARCHIVE_SIZE`` / ``BME_MAX_ARCHIVE_RATIO`` set them too (a flag wins).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from etl.errors import ConfigError
from etl.extract.encoding import encoding_name

MAX_ARCHIVE_SIZE = 2 << 30  # 2 GiB uncompressed, all members of all archives of a run together
MAX_ARCHIVE_RATIO = 200  # uncompressed / compressed bytes of one member
SIZE_ENV = "BME_MAX_ARCHIVE_SIZE"
RATIO_ENV = "BME_MAX_ARCHIVE_RATIO"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

DELIMITERS: dict[str, str] = {",": ",", ";": ";", "|": "|", "tab": "\t", "\\t": "\t", "\t": "\t"}


@dataclass(frozen=True)
class ReadOptions:
    """Overrides for reading text sources; ``None`` means "detect" (the default)."""

    encoding: str | None = None  # a Python codec name, canonical (``shift_jis``, ``cp1250``)
    delimiter: str | None = None  # one of extract's delimiters: , ; | or a tab
    max_archive_size: int = MAX_ARCHIVE_SIZE  # bytes: archives stop expanding past this (all together)
    max_archive_ratio: float = MAX_ARCHIVE_RATIO  # a member expanding more than this is refused

    def identity(self) -> str:
        """What a run id digests for these options: empty when nothing is overridden, so runs without the
        flags keep their ids; a different encoding or delimiter reads different contacts, hence a new run."""
        parts = []
        if self.encoding is not None:
            parts.append(f"encoding={self.encoding}")
        if self.delimiter is not None:
            parts.append(f"delimiter={self.delimiter!r}")
        return ";".join(parts)


def read_options(
    encoding: str | None = None,
    delimiter: str | None = None,
    max_archive_size: str | None = None,
    max_archive_ratio: str | None = None,
) -> ReadOptions:
    """``ReadOptions`` from the flags' raw values (the archive caps falling back on their environment
    variables, then the defaults); ``ConfigError`` (exit 2, one line) for an unknown or malformed one."""
    codec = None
    if encoding is not None:
        codec = encoding_name(encoding)
        if codec is None:
            raise ConfigError(
                f"unknown encoding {encoding!r} for --encoding; use a name like utf-8, cp1252, cp1250, "
                "cp1251, shift_jis, gb18030, utf-16"
            )
    delim = None
    if delimiter is not None:
        delim = DELIMITERS.get(delimiter if delimiter in ("\t", "\\t") else delimiter.strip().lower())
        if delim is None:
            raise ConfigError(f"unknown delimiter {delimiter!r} for --delimiter; use , ; | or tab")
    size = _archive_size(max_archive_size, "--max-archive-size")
    if size is None:
        size = _archive_size(os.environ.get(SIZE_ENV), SIZE_ENV)
    ratio = _archive_ratio(max_archive_ratio, "--max-archive-ratio")
    if ratio is None:
        ratio = _archive_ratio(os.environ.get(RATIO_ENV), RATIO_ENV)
    return ReadOptions(
        codec,
        delim,
        MAX_ARCHIVE_SIZE if size is None else size,
        MAX_ARCHIVE_RATIO if ratio is None else ratio,
    )


def _archive_size(raw: str | None, name: str) -> int | None:
    """Bytes from ``2147483648``, ``500M``, ``4G``, ``4GiB`` (binary units); ``None`` when not given."""
    if raw is None or not raw.strip():
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", raw.lower())
    if m is None or int(m.group(1)) <= 0:
        raise ConfigError(f"{name} {raw!r}: expected a size in bytes like 4G, 500M or 2147483648")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _archive_ratio(raw: str | None, name: str) -> float | None:
    """A positive number; ``None`` when not given."""
    if raw is None or not raw.strip():
        return None
    try:
        ratio = float(raw)
    except ValueError:
        ratio = 0.0
    if not ratio > 0 or ratio == float("inf"):
        raise ConfigError(f"{name} {raw!r}: expected a positive number like 200")
    return ratio
