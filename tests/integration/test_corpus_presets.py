"""The export corpus (tests/fixtures/exports/<case>/) read through detection and validate.

Each case holds a platform's export files, written from its own documentation, and ``expected.toml``
(``platform``, ``documented_at``, ``note``, ``[contacts]`` email → active | inactive | absent | not_active,
``[fields."<email>"]`` label → value): which preset detection must choose, and every address's end state.
These tests check what the presets decide — the detected platform, the consent status each address gets
from validate, the field values — not the load into Benchmark.

tests/e2e/test_export_corpus.py migrates the same cases into the sandbox over HTTP.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from etl.model import KEY, STATUS
from etl.validate import validate_sources

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").is_file()) if CORPUS.is_dir() else []
STATES = {"active", "inactive", "absent", "not_active"}


def case_files(case: str) -> list[Path]:
    return sorted(p for p in (CORPUS / case).rglob("*") if p.is_file() and p.name != "expected.toml")


def expected(case: str) -> dict[str, Any]:
    return tomllib.loads((CORPUS / case / "expected.toml").read_text(encoding="utf-8"))


def end_state(status: str | None) -> str:
    """Where a validate status leaves a person in Benchmark under the default policy."""
    if status is None or status in ("pending", "no_consent"):
        return "absent"
    return "active" if status == "subscribed" else "inactive"


def misses(case: str, only: frozenset[str]) -> tuple[dict[str, tuple[str, str]], list[tuple[str, ...]]]:
    """Of the addresses in ``only``: those whose end state, or an expected field value, is not as expected."""
    exp = expected(case)
    result = validate_sources(case_files(case), preset=None)
    assert result.preset.name == exp["platform"]
    assert bool(result.consent.unclear) == bool(exp.get("stop")), result.consent.unclear
    if exp.get("stop"):  # migrate stops to ask: nobody is written, whatever validate read
        return {}, []
    rows = result.canonical.to_dicts()
    got = {row[KEY]: end_state(row[STATUS]) for row in rows}
    assert set(got) <= set(exp["contacts"]), set(got) - set(exp["contacts"])
    wrong = {
        email: (want, got.get(email, "absent"))
        for email, want in exp["contacts"].items()
        if email in only
        and not (got.get(email, "absent") == want or (want == "not_active" and got.get(email) != "active"))
    }
    by_key = {row[KEY]: row for row in rows}
    fields = [
        (email, label, str(value), str(by_key.get(email, {}).get(label)))
        for email, labels in exp.get("fields", {}).items()
        if email in only
        for label, value in labels.items()
        if not str(by_key.get(email, {}).get(label) or "").startswith(str(value))
    ]
    return wrong, fields


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 18, CASES


@pytest.mark.parametrize("case", CASES)
def test_expected_toml_is_complete(case: str) -> None:
    exp = expected(case)
    assert exp["platform"] and exp["documented_at"] and exp["note"]
    assert set(exp["contacts"].values()) <= STATES
    text = "\n".join(p.read_bytes().decode("utf-8", "replace").casefold() for p in case_files(case))
    for email in exp["contacts"]:
        assert email == email.lower() and email in text, email
    for email in exp.get("fields", {}):
        assert exp["contacts"][email] == "active", email
    assert sum(s == "active" for s in exp["contacts"].values()) >= 2
    assert any(s in ("inactive", "not_active") for s in exp["contacts"].values())


@pytest.mark.parametrize("case", CASES)
def test_every_address_ends_as_expected(case: str) -> None:
    """Every address: the presets' decisions, and the engine's rules (a bad optional cell never costs the
    contact; one column spelt differently in two files is one column)."""
    exp = expected(case)
    wrong, fields = misses(case, frozenset(exp["contacts"]))
    assert not wrong and not fields, (wrong, fields)
