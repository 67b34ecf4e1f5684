"""The README and ``--help`` are part of the interface: test them like code."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from etl import errors
from etl.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


COMMANDS = _commands(cli)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(r"example", result.output, re.IGNORECASE), f"`{' '.join(path)} --help` shows no example"


@pytest.mark.parametrize("path", [p for p in COMMANDS if len(p) == 1], ids=lambda p: p[0])
def test_every_command_is_in_the_readme(path: tuple[str, ...]) -> None:
    assert f"bme-migrate {path[0]}" in README


@pytest.mark.parametrize(
    "code",
    [
        errors.EXIT_OK,
        errors.EXIT_UNEXPECTED,
        errors.EXIT_USAGE,
        errors.EXIT_VALIDATION,
        errors.EXIT_AUTH,
        errors.EXIT_PAUSED,
        errors.EXIT_VERIFY_MISMATCH,
    ],
)
def test_exit_codes_are_documented(code: int) -> None:
    assert re.search(rf"^\| {code} \|", README, re.MULTILINE), f"exit code {code} missing from README"


def test_readme_names_the_two_commands() -> None:
    assert "make migrate SOURCE=" in README and "make test" in README
