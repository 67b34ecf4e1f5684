"""Every flag the README shows must exist: a flag renamed in code but not in the docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

import click

from etl.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z](?![\w*-])")  # `--create-*` is a pattern
OTHER_TOOLS = ("python -m", "pytest", "ruff", "pip ")  # lines about other programs' flags


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return names


def _all_options(group: click.Group) -> set[str]:
    names = _options(group) | {"--version"}
    for cmd in group.commands.values():
        names |= _all_options(cmd) if isinstance(cmd, click.Group) else _options(cmd)
    return names


def _command_on(line: str) -> click.Command | None:
    """The one command a README line runs, or None when it names none or several."""
    found = re.findall(r"bme-migrate ([a-z]+)(?: ([a-z]+))?", line)
    if len(found) != 1 or found[0][0] not in cli.commands:
        return None
    cmd = cli.commands[found[0][0]]
    if isinstance(cmd, click.Group):
        return cmd.commands.get(found[0][1])
    return cmd


def _readme_lines() -> list[str]:
    return [line for line in README.splitlines() if not any(t in line for t in OTHER_TOOLS)]


def test_every_flag_in_the_readme_exists_somewhere() -> None:
    known = _all_options(cli)
    named = {flag for line in _readme_lines() for flag in FLAG.findall(line)}
    assert named, "the README names no flag at all?"
    assert sorted(named - known) == []


def _code_lines() -> list[str]:
    """Lines inside fenced blocks: commands as a user would type them (prose may name several commands)."""
    out, fenced = [], False
    for line in _readme_lines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            out.append(line.removeprefix("$ ").split("  #", 1)[0])
    return out


def test_a_flag_on_a_command_line_belongs_to_that_command() -> None:
    wrong = []
    for line in _code_lines():
        cmd = _command_on(line)
        if cmd is not None and line.lstrip().startswith(("bme-migrate", "LEGACY_API_TOKEN", "BME_")):
            after = line.split("bme-migrate", 1)[1]
            wrong += [(line, f) for f in FLAG.findall(after) if f not in _options(cmd)]
    assert wrong == []
