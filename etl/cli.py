"""The ``bme-migrate`` command: parse, call the library, print. Errors are translated only here.

Each sub-command lives in ``etl/commands/<name>.py``; this module just assembles the group and turns a
``MigrationError`` into one line on stderr and its exit code (never a traceback).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from functools import partial

import click

from etl import __version__
from etl.errors import EXIT_UNEXPECTED, ConsentUnclear, MigrationError
from etl.terminal import PROBLEM, Console, printable

# Sub-commands in the order of a session: name → (module exposing ``command``, the one-line help ``--help``
# lists). The line is kept here so that ``bme-migrate --help`` imports no command module — they pull in
# polars, pandera and httpx, a second or more — and a test holds it equal to the command's own ``short_help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("etl.commands.validate", "Check an export and write its report; no Benchmark request."),
    "mappings": ("etl.commands.mappings", "Presets: list, show, detect a platform, plan/apply the mapping."),
    "migrate": ("etl.commands.migrate", "Load contacts into Benchmark: resumable, then verified."),
    "status": ("etl.commands.status", "Every run: rows by outcome, requests, how to resume."),
    "verify": ("etl.commands.verify", "Read a run back from the account; compare with the ledger."),
    "undo": ("etl.commands.undo", "Delete what a run created, unchanged since; dry unless --yes."),
    "sandbox": ("etl.commands.sandbox", "Run the local Benchmark-compatible API server."),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's sub-commands, each module imported the first time its command is looked up."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self._table = table
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in self._table:
                raise KeyError(name)
            command: click.Command = importlib.import_module(self._table[name][0]).command
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter([*self._table, *(n for n in self._loaded if n not in self._table)])

    def __len__(self) -> int:
        return len(set(self._table) | set(self._loaded))


class _Lazy(click.Group):
    """Lists sub-commands in a session's order, from the table, without importing them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = LazyCommands(COMMANDS)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx) if name in COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Lazy, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="bme-migrate")
def cli() -> None:
    """Move email-marketing contacts from a legacy platform into Benchmark Email.

    \b
    Typical session (example):
      bme-migrate validate export.csv --report-dir reports/   # dry run, no API request
      bme-migrate migrate export.csv --dry-run                # the exact split and request bill
      bme-migrate migrate export.csv                          # resumable load, then verify
      bme-migrate status                                      # progress of every run

    With no BME_API_KEY set, commands that need a target use the embedded local sandbox.
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, map our errors to exit codes, hide tracebacks.

    The ``Console`` made here is the one every command's lines go through (``--quiet``, ``--verbose``,
    ``--log-file`` and ``--json`` set it), so the error line that ends a command obeys them too.
    """
    console = Console(color=False if os.environ.get("NO_COLOR") else None)
    say = partial(console.say, err=True, level=PROBLEM)
    for stream in (sys.stdout, sys.stderr):  # a cp1252 console cannot show "→" or a Chinese name: escape,
        reconfigure = getattr(stream, "reconfigure", None)  # never end in UnicodeEncodeError
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        rv = cli.main(args=argv, prog_name="bme-migrate", standalone_mode=False, obj=console)
    except click.exceptions.Abort:
        say("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        # e.g. click's "File '…' does not exist." names the path; ``message`` is Final only in the stubs
        object.__setattr__(exc, "message", printable(exc.message))
        console.log(f"error: {exc.message}")
        exc.show()
        sys.exit(exc.exit_code)
    except MigrationError as exc:
        # one line, data escaped; a ConsentUnclear names one column a line (its data escaped where it is built)
        lines = str(exc).split("\n") if isinstance(exc, ConsentUnclear) else [str(exc)]
        say("error: " + "\n".join(printable(line) for line in lines))
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, no traceback unless asked
        if os.environ.get("BME_DEBUG"):
            raise
        say(f"unexpected error: {type(exc).__name__}: {exc} (set BME_DEBUG=1 for a traceback)")
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(rv if isinstance(rv, int) else 0)
