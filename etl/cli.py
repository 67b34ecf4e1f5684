"""The ``bme-migrate`` command: parse, call the library, print. Errors are translated only here.

Each sub-command lives in ``etl/commands/<name>.py``; this module just assembles the group and turns a
``MigrationError`` into one line on stderr and its exit code (never a traceback).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from etl import __version__
from etl.errors import EXIT_UNEXPECTED, ConsentUnclear, MigrationError
from etl.terminal import printable, say

# Sub-command modules; each exposes ``command`` (a click.Command or Group).
COMMAND_MODULES: tuple[str, ...] = (
    "etl.commands.validate",
    "etl.commands.mappings",
    "etl.commands.migrate",
    "etl.commands.status",
    "etl.commands.verify",
    "etl.commands.sandbox",
)


class _InOrder(click.Group):
    """Lists sub-commands in COMMAND_MODULES order (the order of a session), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_InOrder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_name).command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, map our errors to exit codes, hide tracebacks."""
    for stream in (sys.stdout, sys.stderr):  # a cp1252 console cannot show "→" or a Chinese name: escape,
        reconfigure = getattr(stream, "reconfigure", None)  # never end in UnicodeEncodeError
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        rv = cli.main(args=argv, prog_name="bme-migrate", standalone_mode=False)
    except click.exceptions.Abort:
        say("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # e.g. click's "File '…' does not exist." names the path; ``message`` is Final only in the stubs
        object.__setattr__(exc, "message", printable(exc.message))
        exc.show()
        sys.exit(exc.exit_code)
    except MigrationError as exc:
        # one line, data escaped; a ConsentUnclear names one column a line (its data escaped where it is built)
        lines = str(exc).split("\n") if isinstance(exc, ConsentUnclear) else [str(exc)]
        say("error: " + "\n".join(printable(line) for line in lines), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, no traceback unless asked
        if os.environ.get("BME_DEBUG"):
            raise
        say(f"unexpected error: {type(exc).__name__}: {exc} (set BME_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(rv if isinstance(rv, int) else 0)
