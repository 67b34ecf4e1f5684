"""The README, docs/ and ``--help`` are part of the interface: test them like code."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from etl import errors
from etl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 12 * 1024  # issue #13: the README is a front door; the reference lives in docs/
INTERRUPTED = 130  # a second Ctrl-C, or Ctrl-C before a run starts (etl/cli.py, etl/launch.py)
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")


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


EXIT_CODES = sorted({v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)})


def test_the_exit_codes_come_from_errors() -> None:
    assert {errors.EXIT_OK, errors.EXIT_USAGE, errors.EXIT_PAUSED, errors.EXIT_VERIFY_MISMATCH} <= set(
        EXIT_CODES
    )


@pytest.mark.parametrize("code", [*EXIT_CODES, INTERRUPTED])
def test_exit_codes_are_documented(code: int) -> None:
    assert re.search(rf"^\| {code} \|", README, re.MULTILINE), f"exit code {code} missing from README"


def test_readme_names_the_two_commands() -> None:
    assert "make migrate SOURCE=" in README and "make test" in README


def test_the_readme_is_a_front_door() -> None:
    size = len(README.encode("utf-8"))
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes: move reference material to docs/"


def _unfenced(text: str) -> str:
    """The text outside fenced code blocks (a ``[x](y)`` in a code sample is not a link)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return "\n".join(out)


def _anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors: lower-cased, punctuation but ``-``/``_`` dropped, spaces to ``-``."""
    heads = [
        line.lstrip("#").strip()
        for line in _unfenced(doc.read_text(encoding="utf-8")).splitlines()
        if line.startswith("#")
    ]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def _links(doc: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(_unfenced(doc.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file_that_exists(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: … : not ours to check
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists() or ROOT not in (dest, *dest.parents):
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(ROOT / "README.md")}
    assert [d.name for d in DOCS[1:] if d.resolve() not in linked] == []


def test_the_link_check_sees_links() -> None:
    assert "docs/migration-guide.md" in _links(ROOT / "README.md")
    assert "validation.md#duplicates-who-wins" in _links(ROOT / "docs" / "consent.md")
