"""``bme-migrate --help`` answers without importing the command modules (polars, pandera, httpx)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etl.cli import COMMANDS, cli

HEAVY = ("polars", "pandera", "httpx", "etl.commands")


def test_group_help_imports_no_command_module() -> None:
    probe = (
        "import sys\n"
        "from etl.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY[:3]!r} or m.startswith('etl.commands'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in done.stderr, done.stderr
    for name in COMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    """The table's line must say what the command itself says, so the two can't drift apart."""
    command = cli.commands[name]
    assert command.name == name
    assert command.get_short_help_str(limit=200) == COMMANDS[name][1]


def test_unknown_command_is_a_usage_error() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["migrat"])
    assert result.exit_code == 2 and "No such command" in result.output
