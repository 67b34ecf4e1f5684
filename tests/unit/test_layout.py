"""The package layout is part of the design: stages import only what stands before them in the data flow.

extract → validate → mapping → load → verify, with ``pipeline`` composing them and ``commands``/``cli`` on
top. Below every stage: the shared vocabulary (``etl/*.py``) and the shared packages ``presets`` (what the
platforms' exports look like) and ``benchmark`` (the one client for the target API). The sandbox is a
server of its own: it may use the shared vocabulary only, and only the pipeline and the commands start it.
Read from the source with ``ast`` (nothing is imported), imports inside functions included, so a lazy
import can't dodge the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ETL = Path(__file__).resolve().parents[2] / "etl"

STAGES = ("extract", "validate", "mapping", "load", "verify", "pipeline", "commands", "cli")
SHARED = ("presets", "benchmark", "report")
BASE = "base"  # a top-level module of etl/ other than the entry points


def _part(module: str) -> str:
    """The layer a dotted ``etl.…`` module belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return BASE
    top = parts[1]
    if (ETL / top).is_dir():
        return top
    return "cli" if top in ("cli", "launch") else BASE


def _allowed(part: str) -> set[str]:
    if part in (BASE, *SHARED, "sandbox"):
        return {BASE, part}
    rank = STAGES.index(part)
    allowed = {BASE, *SHARED, *STAGES[: rank + 1]}
    if rank >= STAGES.index("pipeline"):
        allowed.add("sandbox")
    return allowed


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name == "etl" or name.startswith("etl.")]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ETL.parent).with_suffix("").parts)


def _violations() -> list[str]:
    out = []
    for path in sorted(ETL.rglob("*.py")):
        part = _part(_module(path))
        for line, name in _imports(path):
            target = _part(name)
            if target not in _allowed(part):
                out.append(f"{path.relative_to(ETL.parent)}:{line} ({part}) imports {name} ({target})")
    return out


def test_no_stage_imports_a_later_one() -> None:
    assert _violations() == []


def test_every_package_is_placed() -> None:
    """A new package must be given its place in the order here, not slip in unchecked."""
    packages = {p.name for p in ETL.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(STAGES[:-1]) | set(SHARED) | {"sandbox"}


@pytest.mark.parametrize(
    ("part", "target", "ok"),
    [
        ("validate", "mapping", False),
        ("mapping", "validate", True),
        ("load", "verify", False),
        ("verify", "load", True),
        ("presets", "validate", False),
        ("benchmark", "load", False),
        ("sandbox", "presets", False),
        ("extract", "benchmark", True),
        ("commands", "sandbox", True),
        ("load", "sandbox", False),
    ],
)
def test_the_rule_itself(part: str, target: str, ok: bool) -> None:
    assert (target in _allowed(part)) is ok


def test_load_holds_only_the_load() -> None:
    """Verify and the whole-pipeline runner have packages of their own; nothing about them stays in load."""
    names = {p.stem for p in (ETL / "load").glob("*.py")}
    assert not {n for n in names if n.startswith(("verify", "migrat", "report", "sources"))}


def test_the_wheel_lists_every_package() -> None:
    """pyproject lists the packages by hand (the presets ride along as etl.presets.catalog): none may be missed."""
    import tomllib

    listed = set(
        tomllib.loads((ETL.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {_module(p.parent) for p in ETL.rglob("__init__.py")} | {"etl.presets.catalog"}
    assert listed == found


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ETL.parent)): p.read_text(encoding="utf-8") for p in sorted(ETL.rglob("*.py"))}


def test_one_class_sends_http_to_benchmark() -> None:
    """Issue #13 item 2: ``httpx.Client(`` only in the Benchmark client, the sandbox and the legacy fetcher's
    one construction, so every request to Benchmark is paced, retried, counted and scrubbed alike."""
    found = {
        path: text.count("httpx.Client(") for path, text in _sources().items() if "httpx.Client(" in text
    }
    outside = {p: n for p, n in found.items() if not p.startswith("etl/sandbox/")}
    # the legacy fetcher talks to the old platform and the notifier to a webhook: neither is Benchmark
    assert outside == {
        "etl/benchmark/client.py": 1,
        "etl/extract/legacy_fetch.py": 1,
        "etl/commands/notify.py": 1,
    }
    aliased = [
        f"{path}:{node.lineno}"
        for path, text in _sources().items()
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.ImportFrom) and node.module == "httpx" and not path.startswith("etl/sandbox/")
    ]
    assert aliased == []  # no ``from httpx import Client`` to dodge the count


def test_the_api_key_is_revealed_in_one_place() -> None:
    """``Secret.reveal()`` for the Benchmark key only in the client's header; the legacy token's own two
    (its Bearer header and the snapshot's digest of it) stay in the legacy extractor."""
    found = {path: text.count(".reveal()") for path, text in _sources().items() if ".reveal()" in text}
    assert found == {
        "etl/benchmark/client.py": 1,
        "etl/extract/legacy_fetch.py": 1,
        "etl/extract/legacy_api.py": 1,
    }
