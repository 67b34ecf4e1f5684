"""Text for a terminal: control characters in data never reach it raw.

File names, ZIP member names, column headers and cells come from the export: an ESC sequence in one
(``\\x1b]0;…\\x07`` retitles the window, ``\\x1b[31m`` recolours it, ``\\x1b[2J`` clears it) would be obeyed
by the terminal if printed as is. Every line the CLI prints goes through ``say``, which writes C0 and C1
control characters and DEL as visible escapes (``\\x1b``) and keeps printable Unicode as it is.
"""

from __future__ import annotations

import re

import click

# C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_NOT_LAYOUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str) -> str:
    """One value (a name, a cell) for a terminal line: every control character escaped, newlines too."""
    return _CONTROL.sub(_escape, text)


def for_terminal(text: str) -> str:
    """A message of ours for the terminal: control characters escaped, except the newlines and tabs that
    lay the message out."""
    return _CONTROL_NOT_LAYOUT.sub(_escape, text)


def say(message: str = "", *, err: bool = False) -> None:
    """``click.echo`` of a message that may carry names or cells from the data (see the module docstring)."""
    click.echo(for_terminal(message), err=err)
