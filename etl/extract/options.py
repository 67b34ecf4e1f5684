"""``ReadOptions``: what the user says about every text source of a run, overriding detection.

``--encoding NAME`` and ``--delimiter CHAR`` exist for the files detection gets wrong or cannot decide
(a short file in an ambiguous code page stops the run and asks for ``--encoding``). They apply to every
delimited file of the run (and ``encoding`` to JSON/NDJSON too); spreadsheets are not text.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.errors import ConfigError
from etl.extract.encoding import encoding_name

DELIMITERS: dict[str, str] = {",": ",", ";": ";", "|": "|", "tab": "\t", "\\t": "\t", "\t": "\t"}


@dataclass(frozen=True)
class ReadOptions:
    """Overrides for reading text sources; ``None`` means "detect" (the default)."""

    encoding: str | None = None  # a Python codec name, canonical (``shift_jis``, ``cp1250``)
    delimiter: str | None = None  # one of extract's delimiters: , ; | or a tab

    def identity(self) -> str:
        """What a run id digests for these options: empty when nothing is overridden, so runs without the
        flags keep their ids; a different encoding or delimiter reads different contacts, hence a new run."""
        parts = []
        if self.encoding is not None:
            parts.append(f"encoding={self.encoding}")
        if self.delimiter is not None:
            parts.append(f"delimiter={self.delimiter!r}")
        return ";".join(parts)


def read_options(encoding: str | None = None, delimiter: str | None = None) -> ReadOptions:
    """``ReadOptions`` from the flags' raw values; ``ConfigError`` (exit 2, one line) for an unknown one."""
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
    return ReadOptions(codec, delim)
