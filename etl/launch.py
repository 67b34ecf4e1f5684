"""The ``bme-migrate`` console entry point: settings that must precede ``import polars``, then the CLI.

``etl.cli`` imports every sub-command and with them polars, so the allocator setting (see
``etl.allocator``) is applied here, before ``etl.cli`` is imported.
"""

from __future__ import annotations


def main() -> None:
    from etl.allocator import configure

    configure()
    from etl.cli import main as cli_main

    cli_main()
