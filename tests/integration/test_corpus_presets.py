"""The export corpus (tests/fixtures/exports/<case>/) read through detection and validate.

Each case holds a platform's export files, written from its own documentation, and ``expected.toml``
(``platform``, ``documented_at``, ``note``, ``[contacts]`` email → active | inactive | absent | not_active,
``[fields."<email>"]`` label → value): which preset detection must choose, and every address's end state.
These tests check what the presets decide — the detected platform, the consent status each address gets
from validate, the field values — not the load into Benchmark.

A few addresses disagree today for reasons outside the presets (an optional field whose value does not
parse rejects its whole row; the email column spelt ``EMAIL`` in one file and ``email`` in another).
``ENGINE_GAPS`` names them with the reason: the main test checks every other address, and
``test_engine_gaps`` checks those and reports xfail until the engine serves them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from etl.mapping.detect import detect_platform
from etl.mapping.headers import read_headers
from etl.model import KEY, STATUS
from etl.validate import validate_sources

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").is_file()) if CORPUS.is_dir() else []
STATES = {"active", "inactive", "absent", "not_active"}

# case → (why today's engine does not meet the expectation — not a preset matter, the addresses it touches)
BAD_OPTIONAL_VALUE = "an optional field with a value that does not parse rejects the whole row"
ENGINE_GAPS: dict[str, tuple[str, frozenset[str]]] = {
    case: (BAD_OPTIONAL_VALUE, frozenset({"frances.a@example.com"}))
    for case in (
        "activecampaign",
        "aweber",
        "campaign_monitor",
        "constant_contact",
        "getresponse",
        "klaviyo",
        "mailchimp",
        "mailpoet",
        "moosend",
        "omnisend",
        "squarespace",
        "wix",
    )
}
ENGINE_GAPS["drip"] = (BAD_OPTIONAL_VALUE, frozenset({"edsger.d@example.org"}))
ENGINE_GAPS["hubspot"] = (
    BAD_OPTIONAL_VALUE + " (Create Date '2/5/24 1:51' written by a spreadsheet re-save)",
    frozenset({"grace.h@example.org", "frances.a@example.com"}),
)
ENGINE_GAPS["sendgrid"] = (
    "the email column is EMAIL in the contacts file and email in the suppression files: the contacts "
    "file's rows are rejected as missing_email",
    frozenset(
        {
            "ada.byron@example.com",
            "grace.h@example.org",
            "linus.t@example.net",
            "frances.a@example.com",
            "edsger.d@example.org",
        }
    ),
)


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
def test_detection_chooses_the_expected_preset(case: str) -> None:
    exp = expected(case)
    found = detect_platform(read_headers([str(p) for p in case_files(case)]))
    assert found.platform == exp["platform"], found.evidence
    if exp["platform"] != "generic":
        assert found.confidence >= 0.5, found


@pytest.mark.parametrize("case", CASES)
def test_every_address_ends_as_expected(case: str) -> None:
    """Every address but those an engine gap touches: these are the presets' decisions."""
    exp = expected(case)
    touched = ENGINE_GAPS.get(case, ("", frozenset()))[1]
    wrong, fields = misses(case, frozenset(exp["contacts"]) - touched)
    assert not wrong and not fields, (wrong, fields)


@pytest.mark.parametrize("case", sorted(ENGINE_GAPS))
def test_engine_gaps(case: str) -> None:
    """The addresses the engine does not serve yet (reason in ENGINE_GAPS): xfail while it does not."""
    reason, touched = ENGINE_GAPS[case]
    assert touched <= set(expected(case)["contacts"])
    wrong, fields = misses(case, touched)
    if wrong or fields:
        pytest.xfail(f"{reason}: {wrong or fields}")
