"""The ``bme-migrate`` console entry point: settings that must precede ``import polars``, then the CLI.

``etl.cli`` imports every sub-command and with them polars, so the allocator setting (see
``etl.allocator``) is applied here, before ``etl.cli`` is imported.
"""

from __future__ import annotations


def main() -> None:
    import sys

    try:
        from etl.allocator import configure

        configure()
        # Importing the CLI (polars, httpx, every command) takes a second or more: Ctrl-C in that window
        # is an interruption like any other, not a traceback through importlib.
        from etl.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    cli_main()
