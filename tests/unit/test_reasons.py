"""The reject reasons are one enum, documented in one table that cannot drift from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polars as pl

from etl.reasons import RejectReason, reasons_table
from etl.validate.schemas import contract_rejects

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reject-reasons.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \|$")

# The same strings meaning something else: statuses and status words, verify's discrepancy kind.
OTHER_MEANINGS = {
    ("etl/model.py", "no_consent"),  # Status.NO_CONSENT
    ("etl/report/page.py", "no_consent"),  # the consent picture's segment
    ("etl/presets/consent.py", "no_consent"),  # a status word
    ("etl/presets/consent.py", "unconfirmed"),  # a status word
    ("etl/presets/consent_words.py", "no_consent"),  # a status, keying its words in each language
    ("etl/verify/compare.py", "duplicate"),  # a key found twice in the account
}


def test_the_table_lists_exactly_the_members_with_their_sentences() -> None:
    rows = [
        ROW.match(line) for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")
    ]
    assert all(rows)
    listed = [(m.group(1), m.group(2), m.group(3)) for m in rows if m]
    assert listed == [(r.value, r.stage, r.meaning) for r in RejectReason]
    assert DOC.read_text(encoding="utf-8") == reasons_table()  # regenerate: python -m etl.reasons > …


def test_each_meaning_is_one_sentence() -> None:
    for r in RejectReason:
        assert r.stage and r.meaning, r
        assert r.meaning[0].isupper() and r.meaning.endswith("."), r
        assert ". " not in r.meaning.rstrip("."), r  # one sentence
        assert "|" not in r.meaning  # would break the table


def test_no_stage_spells_a_reason_as_a_literal() -> None:
    """A reason written as a bare string would be a code the enum (and the table) does not know."""
    values = {r.value for r in RejectReason}
    found = set()
    for path in sorted((ROOT / "etl").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("etl/reasons.py",) or rel.startswith("etl/sandbox/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in values:
                found.add((rel, node.value))
    assert found - OTHER_MEANINGS == set()


def test_a_contract_failure_is_named_by_its_member() -> None:
    """Every column of the canonical contract has its ``contract_*`` member; a field's is contract_field."""
    assert RejectReason.contract("key") is RejectReason.CONTRACT_KEY
    frame = pl.DataFrame(
        {
            "row_id": [1, 1],
            "source_file": ["a.csv", "a.csv"],
            "source_line": [2, 3],
            "email_raw": ["a@x.com", "b@x.com"],
            "key": ["a@x.com", "b@x.com"],
            "status": ["subscribed", "subscribed"],
            "tags": [[], []],
            "lists": [[], []],
            "event_time": pl.Series([None, None], dtype=pl.Datetime(time_zone="UTC")),
        },
        schema_overrides={"tags": pl.List(pl.String), "lists": pl.List(pl.String)},
    )
    codes = contract_rejects(frame, []).get_column("reason_code").to_list()
    assert codes == [RejectReason.CONTRACT_ROW_ID] * 2  # both rows share the id
