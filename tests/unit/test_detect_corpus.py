"""Detection over the export corpus (tests/fixtures/exports/<case>/): every case is detected as its
expected.toml says, from the headers and file names the header reader sees — and a file of generic
column names goes to `generic` with an honest message instead of a guess."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from etl.mapping.headers import read_headers
from etl.presets.detect import GENERIC, MIN_CONFIDENCE, detect_platform
from etl.presets.preset import preset_names

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
CASES = sorted(d for d in CORPUS.iterdir() if (d / "expected.toml").is_file()) if CORPUS.is_dir() else []


def export_files(case: Path) -> list[str]:
    return sorted(str(p) for p in case.rglob("*") if p.is_file() and p.name != "expected.toml")


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 9, CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_case_is_detected_as_expected(case: Path) -> None:
    expected = tomllib.loads((case / "expected.toml").read_text(encoding="utf-8"))["platform"]
    assert expected in preset_names(), f"{case.name}: expected.toml names an unknown preset {expected!r}"
    found = detect_platform(read_headers(export_files(case)))
    assert found.platform == expected, (found.confidence, found.closest, found.evidence)
    if expected != GENERIC:
        assert found.confidence >= MIN_CONFIDENCE and not found.closest
        assert found.message == f"detected, confidence {found.confidence:.0%}"


def test_generic_headers_alone_go_to_generic_and_say_so(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text(
        "id,email,created_at,status,name\n1,ann@example.com,2024-01-01,active,Ann\n", encoding="utf-8"
    )
    found = detect_platform(read_headers([str(f)]))
    assert found.platform == GENERIC
    assert found.confidence == 0.0  # the closest preset's own confidence: nothing distinctive at all
    assert len(found.closest) == 2 and all(c == 0.0 for _, c in found.closest)
    names = [n for n, _ in found.closest]
    assert GENERIC not in names and len(set(names)) == 2
    assert found.message == (
        f"no preset above 50%; closest: {names[0]} 0%, {names[1]} 0%; no column is distinctive of any preset"
        " — pick one with --preset NAME"
    )
    doc = found.to_dict()
    assert doc["message"] == found.message and [c["preset"] for c in doc["closest"]] == names


def test_weak_shared_evidence_is_reported_not_applied() -> None:
    # stripe_customer_id is listed by ghost and beehiiv: a hint, not enough to read the file as either.
    found = detect_platform({"x.csv": ["email", "name", "stripe_customer_id", "created_at"]})
    assert found.platform == GENERIC
    assert {n for n, _ in found.closest} == {"ghost", "beehiiv"}
    assert 0 < found.confidence < MIN_CONFIDENCE
    assert found.confidence == max(c for _, c in found.closest)
    pct = f"{found.confidence:.0%}"
    assert (
        f"closest: ghost {pct}, beehiiv {pct}" in found.message
        or f"beehiiv {pct}, ghost {pct}" in found.message
    )
    assert "pick one with --preset NAME" in found.message


@pytest.mark.parametrize(
    ("headers", "platform"),
    [
        # the confusions detection used to make: created_at / id counted as strong evidence
        (["email", "active_subscription", "expiry", "email_disabled", "created_at"], "substack"),
        (
            [
                "id",
                "email",
                "name",
                "note",
                "subscribed_to_emails",
                "complimentary_plan",
                "created_at",
                "labels",
            ],
            "ghost",
        ),
        (["email", "First Name", "Last Name", "status", "tier", "created_at", "unsubscribed_at"], "beehiiv"),
        (
            ["First Name", "Last Name", "Email", "Company", "Accepts Marketing", "Total Spent", "Tags"],
            "shopify",
        ),
        (["id", "firstname", "lastname", "email", "points", "last_active", "preferred_locale"], "mautic"),
    ],
)
def test_distinctive_columns_decide_not_generic_ones(headers: list[str], platform: str) -> None:
    found = detect_platform({"export.csv": headers})
    assert found.platform == platform, found.evidence
    assert not any(f"'{h}'" in e for e in found.evidence for h in ("id", "email", "created_at", "status"))
