"""Every flag the README and docs/*.md show must exist: a flag renamed in code but not in the docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from etl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z](?![\w*-])")  # `--create-*` is a pattern
# lines about other programs' flags (the sample generator's --large is not bme-migrate's)
OTHER_TOOLS = ("python -m", "pytest", "ruff", "pip ", "generate.py", "systemd-run ")


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


def _doc_lines(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not any(t in line for t in OTHER_TOOLS)]


def test_the_docs_pages_are_checked() -> None:
    assert len(DOCS) > 5 and all(d.is_file() for d in DOCS)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_every_flag_in_the_docs_exists_somewhere(doc: Path) -> None:
    known = _all_options(cli)
    named = {flag for line in _doc_lines(doc) for flag in FLAG.findall(line)}
    assert sorted(named - known) == []


def test_the_readme_names_flags() -> None:
    assert FLAG.findall((ROOT / "README.md").read_text(encoding="utf-8")), "the README names no flag at all?"


def _code_lines(doc: Path) -> list[str]:
    """Lines inside fenced blocks: commands as a user would type them (prose may name several commands)."""
    out, fenced = [], False
    for line in _doc_lines(doc):
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            out.append(line.removeprefix("$ ").split("  #", 1)[0])
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_a_flag_on_a_command_line_belongs_to_that_command(doc: Path) -> None:
    wrong = []
    for line in _code_lines(doc):
        cmd = _command_on(line)
        if cmd is not None and line.lstrip().startswith(("bme-migrate", "LEGACY_API_TOKEN", "BME_")):
            after = line.split("bme-migrate", 1)[1]
            wrong += [(line, f) for f in FLAG.findall(after) if f not in _options(cmd)]
    assert wrong == []
