"""Transformation of a canonical frame (built by hand, per the contract in etl/model.py) into PlannedContacts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl.errors import MappingError
from etl.mapping.transform import distinct_names, plan_contacts
from etl.model import (
    EMAIL_RAW,
    EVENT_TIME,
    KEY,
    LISTS,
    REASON,
    REASON_CODE,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TAGS,
    FieldColumn,
    ResolvedMapping,
)

FIRST = FieldColumn("First Name", "First Name", predefined="firstName")
AGE = FieldColumn("Age", "age", data_type="text")
BDAY = FieldColumn("Birthday", "Birthday", data_type="text")
VIP = FieldColumn("Vip", "VIP?", data_type="text")
JOINED = FieldColumn("Joined", "Joined", data_type="text")


def canonical(rows: list[dict]) -> pl.DataFrame:
    base = {
        **dict.fromkeys(c.label for c in COLS),
        ROW_ID: 0,
        SOURCE_FILE: "a.csv",
        SOURCE_LINE: 2,
        EMAIL_RAW: None,
        KEY: None,
        STATUS: "subscribed",
        TAGS: [],
        LISTS: [],
        EVENT_TIME: None,
    }
    filled = []
    for i, r in enumerate(rows):
        d = {**base, ROW_ID: i + 1, SOURCE_LINE: i + 2, **r}
        d[EMAIL_RAW] = d[KEY]
        filled.append(d)
    schema = {
        ROW_ID: pl.Int64,
        SOURCE_FILE: pl.String,
        SOURCE_LINE: pl.Int64,
        EMAIL_RAW: pl.String,
        KEY: pl.String,
        STATUS: pl.String,
        TAGS: pl.List(pl.String),
        LISTS: pl.List(pl.String),
        EVENT_TIME: pl.Datetime("us"),
    }
    extra = sorted(({k for r in rows for k in r} | {c.label for c in COLS}) - set(schema))
    return pl.DataFrame(filled, schema={**schema, **dict.fromkeys(extra, pl.String)})


RESOLVED = ResolvedMapping(
    structure_id="s1",
    field_ids=(("Age", "f3"), ("Birthday", "f4"), ("First Name", "f1"), ("Joined", "f6"), ("Vip", "f5")),
    list_ids=(("Imported", "l9"), ("News", "l2"), ("Shop", "l1")),
    tag_ids=(("Blog", "t2"), ("VIP", "t1")),
    field_types=(
        ("f1", "text"),
        ("f3", "number"),
        ("f4", "recurrent_date"),
        ("f5", "boolean"),
        ("f6", "date"),
    ),
    extra_lists=("Imported",),
)
COLS = [FIRST, AGE, BDAY, VIP, JOINED]


def test_values_are_coerced_to_the_account_types_and_sorted() -> None:
    frame = canonical(
        [
            {
                KEY: "ann@example.com",
                "First Name": "Ann",
                "Age": "+42",
                "Birthday": "1990-03-04",
                "Vip": "Yes",
                "Joined": "2024-03-01T10:00:00Z",
                TAGS: ["VIP", "Blog"],
                LISTS: ["Shop", "News"],
            }
        ]
    )
    res = plan_contacts(frame, COLS, RESOLVED)
    (c,) = res.contacts
    assert c.fields == (("f1", "Ann"), ("f3", "42"), ("f4", "03-04"), ("f5", "true"), ("f6", "2024-03-01"))
    assert c.lists == ("l1", "l2", "l9") and c.tags == ("t1", "t2")
    assert c.status == "Active" and c.secondary is None and c.row_ids == (1,)
    assert res.rejected.height == 0 and res.skipped.height == 0


def test_empty_cells_are_omitted_never_blanked() -> None:
    frame = canonical(
        [{KEY: "a@example.com", "First Name": "  ", "Age": None, "Birthday": "", "Vip": None, "Joined": None}]
    )
    (c,) = plan_contacts(frame, COLS, RESOLVED).contacts
    assert c.fields == () and c.lists == ("l9",)  # the --list extra list only


@pytest.mark.parametrize(
    ("column", "value", "word"),
    [
        ("Age", "forty", "a number"),
        ("Joined", "next week", "a date"),
        ("Birthday", "13-45", "a month-day date"),
        ("Vip", "maybe", "true/false"),
    ],
)
def test_uncoercible_value_is_left_out_and_recorded_naming_the_column(
    column: str, value: str, word: str
) -> None:
    """A value the field's type cannot take costs that field only: the contact is planned without it."""
    frame = canonical(
        [
            {KEY: "a@example.com", column: value, "First Name": "Al"},
            {KEY: "b@example.com", "First Name": "Bo"},
        ]
    )
    res = plan_contacts(frame, COLS, RESOLVED)
    assert [c.key for c in res.contacts] == ["a@example.com", "b@example.com"]
    assert res.contacts[0].fields == (("f1", "Al"),)  # the bad value is not sent
    assert res.rejected.height == 0
    (problem,) = res.field_problems.to_dicts()
    src = {c.label: c.source for c in COLS}[column]
    assert problem[ROW_ID] == 1 and problem[REASON_CODE] == "type_mismatch"
    assert (problem["field"], problem["reject_column"], problem["reject_value"]) == (column, src, value)
    assert f"column {src!r}: value '{value}' is not {word}" in problem[REASON]


def test_statuses_and_unconfirmed_policy() -> None:
    frame = canonical(
        [
            {KEY: f"{s}@example.com", STATUS: s}
            for s in ("subscribed", "unsubscribed", "cleaned", "pending", "no_consent")
        ]
    )
    res = plan_contacts(frame, [], RESOLVED)
    assert {c.key.split("@")[0]: (c.status, c.secondary) for c in res.contacts} == {
        "subscribed": ("Active", None),
        "unsubscribed": ("Inactive", "Unsubscribe"),
        "cleaned": ("Inactive", "Unsubscribe"),
    }
    assert dict(zip(res.skipped[KEY], res.skipped[REASON_CODE], strict=True)) == {
        "pending@example.com": "unconfirmed",
        "no_consent@example.com": "no_consent",
    }
    loose = plan_contacts(frame, [], RESOLVED, import_unconfirmed=True)
    assert len(loose.contacts) == 5 and loose.skipped.height == 0
    assert {c.status for c in loose.contacts if c.key.startswith(("pending", "no_consent"))} == {"Inactive"}


def test_unknown_status_is_rejected() -> None:
    res = plan_contacts(canonical([{KEY: "a@example.com", STATUS: "weird"}]), [], RESOLVED)
    assert res.contacts == [] and res.rejected[REASON_CODE].to_list() == ["unknown_status"]


def test_merged_duplicates_travel_with_their_contact() -> None:
    frame = canonical([{KEY: "a@example.com"}, {KEY: "p@example.com", STATUS: "pending"}])
    dups = pl.DataFrame(
        {KEY: ["a@example.com", "p@example.com"], "winner_row_id": [1, 2], "row_ids": [[7, 1, 9], [2, 5]]}
    )
    res = plan_contacts(frame, [], RESOLVED, duplicates=dups)
    assert res.contacts[0].row_ids == (1, 7, 9)
    assert sorted(res.skipped[ROW_ID].to_list()) == [2, 5]


def test_names_outside_the_mapping_are_an_error() -> None:
    frame = canonical([{KEY: "a@example.com", TAGS: ["Unknown"]}])
    with pytest.raises(MappingError, match="tag 'Unknown'"):
        plan_contacts(frame, [], RESOLVED)
    with pytest.raises(MappingError, match="no resolved field id"):
        plan_contacts(canonical([{KEY: "a@example.com", "Zzz": "1"}]), [FieldColumn("Zzz", "Zzz")], RESOLVED)


def test_distinct_names() -> None:
    frame = canonical(
        [
            {KEY: "a@x.io", TAGS: ["VIP", "Blog"], LISTS: ["News"]},
            {KEY: "b@x.io", TAGS: ["VIP"], LISTS: ["Shop", "News"]},
        ]
    )
    assert distinct_names(frame) == (["News", "Shop"], ["VIP", "Blog"])


def test_number_spellings_and_payload_is_ready_for_the_api() -> None:
    frame = canonical(
        [{KEY: f"n{i}@example.com", "Age": v} for i, v in enumerate(["1,234.50", "1e3", "+5", "7"])]
    )
    res = plan_contacts(frame, [AGE], RESOLVED)
    assert [dict(c.fields)["f3"] for c in res.contacts] == ["1234.5", "1000", "5", "7"]
    body = res.contacts[0].create_body("s1")
    assert body["fields"] == [{"_id": "f3", "value": "1234.5"}] and body["lists"] == [{"_id": "l9"}]


def test_a_plan_is_built_a_chunk_at_a_time_and_equals_the_whole(tmp_path: Path) -> None:
    """A plan's contacts are built as iterated, in chunks: 2-row chunks give the same contacts, index and
    keys without building; the ledger stores them all (and each row id) in one pass of 3-contact chunks."""
    import etl.mapping.transform as transform
    from etl.load.ledger import Ledger

    frame = canonical([{KEY: f"{c}@example.com", ROW_ID: i, "First Name": c} for i, c in enumerate("abcde")])
    odd = {"First Name": 'Zoë "Z"\n\\', STATUS: "unsubscribed", TAGS: ["VIP"], LISTS: ["News", "Shop"]}
    frame = pl.concat([frame, canonical([{KEY: "z@example.com", ROW_ID: 5, **odd}])])
    dups = pl.DataFrame({KEY: ["c@example.com"], "winner_row_id": [2], "row_ids": [[9, 2]]})
    whole = list(plan_contacts(frame, COLS, RESOLVED, duplicates=dups).contacts)
    lazy = plan_contacts(frame, COLS, RESOLVED, duplicates=dups, chunk_rows=2).contacts
    assert len(lazy) == 6 and list(lazy) == whole and lazy == whole
    assert lazy[2].row_ids == (2, 9) and lazy[-1].key == "z@example.com" and lazy[1:3] == whole[1:3]
    assert transform.plan_keys(lazy) == [p.key for p in whole]
    with Ledger.open(tmp_path, chunk=3) as ledger:
        ledger.run("r").start(base_url=None, structure_id=None)
        assert ledger.run("r").add_plan(lazy) == 6  # stored as documents polars built
        assert [r.plan for r in ledger.run("r").contacts(["planned"])] == whole
        assert ledger.run("r").keys() == [p.key for p in whole]
        assert ledger.run("r").row_totals() == {"pending": 7}
        ledger.run("objects").start(base_url=None, structure_id=None)
        assert ledger.run("objects").add_plan(whole) == 6  # stored one by one (plan_to_json)
        assert [r.plan for r in ledger.run("objects").contacts(["planned"])] == whole
    assert whole[-1].status == "Inactive" and whole[-1].fields[0][1] == 'Zoë "Z"\n\\'
