"""Text for a terminal: control characters in data never reach it raw.

File names, ZIP member names, column headers and cells come from the export: an ESC sequence in one
(``\\x1b]0;…\\x07`` retitles the window, ``\\x1b[31m`` recolours it, ``\\x1b[2J`` clears it) would be obeyed
by the terminal if printed as is, and a bidi override (U+202E) or a zero-width character would make a name
read as another. Every line the CLI prints goes through ``say``, which writes those as visible escapes
(``\\x1b``, ``\\u202e``) and keeps printable Unicode as it is.

A console that cannot encode our own decorations (a Windows console or redirected output in cp1252, an ASCII
pipe) gets their ASCII forms (``──`` → ``--``, ``≈`` → ``~``, ``→`` → ``->``); a character of the data it
cannot encode is escaped by the stream (``cli.main`` sets ``errors="backslashreplace"``), never a crash.
"""

from __future__ import annotations

import re
import sys

import click

# C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F); then the invisible format characters that change
# how a line reads: zero-width (U+200B–U+200F), line/paragraph separators, bidi embeddings and overrides
# (U+202A–U+202E), word joiner and invisible operators (U+2060–U+2064), bidi isolates (U+2066–U+2069), BOM.
_FORMAT = "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}]")
_CONTROL_NOT_LAYOUT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")

# Our own decorations and their ASCII forms, for a stream that cannot encode them.
ASCII_FORMS = {
    "─": "-",
    "━": "-",
    "│": "|",
    "═": "=",
    "≈": "~",
    "·": "-",
    "→": "->",
    "←": "<-",
    "…": "...",
    "×": "x",
    "≤": "<=",
    "≥": ">=",
    "—": "--",
    "–": "-",
    "✓": "ok",
    "✗": "x",
    "•": "*",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "§": "S",
    "≠": "!=",
    "±": "+/-",
    "▸": ">",
    "█": "#",
    "░": ".",
}
_ASCII = str.maketrans(ASCII_FORMS)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """One value (a name, a cell) for a terminal line: every control character escaped, newlines too."""
    return _CONTROL.sub(_escape, text)


def for_terminal(text: str) -> str:
    """A message of ours for the terminal: control characters escaped, except the newlines and tabs that
    lay the message out."""
    return _CONTROL_NOT_LAYOUT.sub(_escape, text)


def fit(text: str, encoding: str | None) -> str:
    """``text`` with our decorations in ASCII when ``encoding`` cannot write it as it is."""
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.translate(_ASCII)
    return text


def say(message: str = "", *, err: bool = False) -> None:
    """``click.echo`` of a message that may carry names or cells from the data (see the module docstring)."""
    stream = sys.stderr if err else sys.stdout
    click.echo(fit(for_terminal(message), getattr(stream, "encoding", None)), err=err)
