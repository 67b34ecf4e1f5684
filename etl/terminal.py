"""Text for a terminal: control characters in data never reach it raw.

File names, ZIP member names, column headers and cells come from the export: an ESC sequence in one
(``\\x1b]0;…\\x07`` retitles the window, ``\\x1b[31m`` recolours it, ``\\x1b[2J`` clears it) would be obeyed
by the terminal if printed as is, and a bidi override (U+202E) or a zero-width character would make a name
read as another. Every line the CLI prints goes through ``say``, which writes those as visible escapes
(``\\x1b``, ``\\u202e``) and keeps printable Unicode as it is.

A console that cannot encode our own decorations (a Windows console or redirected output in cp1252, an ASCII
pipe) gets their ASCII forms (``──`` → ``--``, ``≈`` → ``~``, ``→`` → ``->``); a character of the data it
cannot encode is escaped by the stream (``cli.main`` sets ``errors="backslashreplace"``), never a crash.

What is shown is decided here, once, not in each command: a ``Console`` (made by ``cli.main``, set by the
``--quiet``/``--verbose``/``--log-file``/``--json`` flags, found through click's context) drops detail
lines unless verbose, keeps only problems and the final line when quiet, sends every human line to stderr
when stdout is reserved for one JSON document, and appends every line, stamped, to the log file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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


# How much a line matters, for --quiet and --verbose.
DETAIL = 0  # shown with --verbose only (and always in the log file)
NORMAL = 1  # the default
FINAL = 2  # the command's last word: shown even with --quiet
PROBLEM = 3  # errors and warnings: always shown


LABEL_COLOURS = {"error": "red", "warning": "yellow"}  # the one colour we use: what went wrong, in a terminal


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    """What this invocation shows and where: one per ``bme-migrate`` call, made by ``cli.main``.

    ``json``: stdout is reserved for the one JSON document (``document``), so every human line goes to
    stderr. ``log_file``: every line, whatever its level, also appended with a UTC timestamp — it is
    opened per line, so nothing needs closing when a command ends in an exception. ``color`` is off when
    ``NO_COLOR`` is set (https://no-color.org): click then strips any styling from what is echoed.
    """

    quiet: bool = False
    verbose: bool = False
    json: bool = False
    log_file: Path | None = None
    color: bool | None = None  # None: click decides (a terminal gets colour); False: never
    now: Callable[[], datetime] = field(default=_utc_now)

    def shows(self, level: int) -> bool:
        if level >= PROBLEM:
            return True
        if self.quiet:
            return level >= FINAL
        return level > DETAIL or self.verbose

    def say(self, message: str = "", *, err: bool = False, level: int = NORMAL) -> None:
        """One human line (see ``say``)."""
        text = for_terminal(message)
        if self.log_file is not None:
            self.log(text)
        if not self.shows(level):
            return
        err = err or self.json
        stream = sys.stderr if err else sys.stdout
        shown = fit(text, getattr(stream, "encoding", None))
        label, sep, rest = shown.partition(": ")
        if level >= PROBLEM and sep and label in LABEL_COLOURS:  # styled after escaping: our own ESC only
            shown = click.style(label + sep, fg=LABEL_COLOURS[label], bold=True) + rest
        # click drops the styling when the stream is not a terminal, and always when ``color`` is False
        click.echo(shown, err=err, color=self.color)

    def log(self, text: str) -> None:
        """Append ``text`` to the log file, each line stamped (UTF-8 whatever the console's encoding)."""
        if self.log_file is None:
            return
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.log_file.open("a", encoding="utf-8") as f:
                for line in text.split("\n"):
                    f.write(f"{stamp} {line}\n")
        except OSError as exc:  # a full disk or a removed dir must not end a migration: say so, stop logging
            path, self.log_file = self.log_file, None
            self.say(
                f"warning: --log-file {path}: {exc.strerror or exc}; no longer logging",
                err=True,
                level=PROBLEM,
            )

    def document(self, text: str) -> None:
        """The one JSON document of ``--json`` on stdout, as the file holds it (no decoration, no escaping:
        JSON escapes control characters itself). A console that cannot encode the document's characters
        gets the same document with ``\\u`` escapes, never the stream's lossy replacement."""
        try:
            text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
        except (UnicodeEncodeError, LookupError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=True)
        click.echo(text.rstrip("\n"), color=False)


MIN_COLUMN = 8  # a table column narrower than this would wrap every word
HEADER_PAD = 2  # tabulate's MIN_PADDING: what it adds to a header's width


def width() -> int | None:
    """The width to wrap tables to: ``COLUMNS`` when set, else the terminal's; None (no wrapping) when
    stdout is a pipe or a file, so ``grep`` and scripts see each row on one line."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def wrap(text: str, columns: int | None, indent: str = "") -> list[str]:
    """``text`` wrapped to ``columns`` (click's wrapper; a word longer than a line is broken, not lost),
    continuation lines indented under the first line's own indent plus ``indent``."""
    if columns is None:
        return [text]
    lead = text[: len(text) - len(text.lstrip(" "))]
    wrapped = click.wrap_text(text.strip(" "), columns, initial_indent=lead, subsequent_indent=lead + indent)
    return wrapped.split("\n") if text.strip() else [text]


def table(rows: Sequence[Sequence[str]], head: Sequence[str], columns: int | None) -> list[str]:
    """``rows`` under ``head`` as a plain table no wider than ``columns``: tabulate wraps each cell within
    its column; a column narrower than an equal share keeps its width, the wider ones share the rest."""
    from tabulate import tabulate

    cells = [[str(c) for c in r] for r in rows]
    # tabulate pads a header by HEADER_PAD, so a column is at least its header's width plus that
    natural = [max(len(head[i]) + HEADER_PAD, *(len(r[i]) for r in cells)) for i in range(len(head))]
    room = (columns or 0) - 2 * (len(head) - 1)  # tabulate's "simple" format puts two spaces between columns
    limits: list[int | None] = [None] * len(head)
    if columns is not None and sum(natural) > room:  # narrow columns keep their width, wide ones share
        wide = sorted(range(len(head)), key=lambda i: natural[i])
        while wide:
            fair = room // len(wide)
            if natural[wide[0]] > fair:
                for i in wide:
                    limits[i] = max(MIN_COLUMN, fair)
                break
            i = wide.pop(0)
            limits[i] = natural[i]
            room -= natural[i]
    text = tabulate(
        cells,
        headers=list(head),
        tablefmt="simple",
        maxcolwidths=limits,
        maxheadercolwidths=[None if w is None else max(1, w - HEADER_PAD) for w in limits],
        disable_numparse=True,
    )
    return [line.rstrip() for line in text.split("\n")]


def console() -> Console:
    """The running command's ``Console`` (from click's context); a default one outside a command."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Console) if ctx is not None else None
    return found if found is not None else Console()


def say(message: str = "", *, err: bool = False, level: int = NORMAL) -> None:
    """``click.echo`` of a message that may carry names or cells from the data (see the module docstring),
    through the running command's ``Console``: ``level`` (``DETAIL``, ``NORMAL``, ``FINAL``, ``PROBLEM``)
    decides whether --quiet or a missing --verbose drops it."""
    console().say(message, err=err, level=level)
