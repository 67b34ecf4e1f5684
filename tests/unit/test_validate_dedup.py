"""Duplicate resolution: winner by event time then read order, consent wins, unions, loser reasons."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.model import (
    EMAIL_RAW,
    EVENT_TIME,
    KEY,
    LISTS,
    OUTCOME,
    REASON,
    REASON_CODE,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TAGS,
)
from etl.validate.dedup import _duplicated, collapse, patch_rows
from tests.unit.test_validate_rules import run

MC = ["subscribed_a.csv", "unsubscribed_a.csv", "cleaned_a.csv", "nonsubscribed_a.csv"]


def test_last_row_in_read_order_wins_without_event_time() -> None:
    res = run(
        [
            {"email": "A@x.com", "First Name": "Old", "Company": "Acme"},
            {"email": "a@X.com ", "First Name": "New", "Company": None},
        ]
    )
    assert res.canonical.height == 1
    row = res.canonical.row(0, named=True)
    assert (row["row_id"], row["First Name"]) == (1, "New")
    assert row["Company"] == "Acme"  # an empty cell in the winner never erases an older value
    loser = res.outcomes.filter(pl.col("row_id") == 0).row(0, named=True)
    assert loser[OUTCOME] == "merged_duplicate" and loser[REASON_CODE] == "duplicate"
    assert loser[REASON] == "same address as export.csv:3 (merged into that row)"


def test_latest_event_time_wins_over_read_order() -> None:
    res = run(
        [
            {"email": "a@x.com", "First Name": "Newer", "updated_at": "2024-05-01"},
            {"email": "a@x.com", "First Name": "Older", "updated_at": "2020-01-01"},
            {"email": "a@x.com", "First Name": "Undated", "updated_at": None},
        ]
    )
    row = res.canonical.row(0, named=True)
    assert (row["row_id"], row["First Name"]) == (0, "Newer")
    assert res.duplicates.row(0, named=True)["winner_line"] == 2


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["subscribed", "unsubscribed"], "unsubscribed"),
        (["unsubscribed", "subscribed"], "unsubscribed"),  # a later subscribed row never undoes it
        (["cleaned", "subscribed"], "cleaned"),
        (["subscribed", "unsubscribed", "cleaned"], "cleaned"),  # winner suppressed: its own status
        (["cleaned", "unsubscribed"], "unsubscribed"),  # winner suppressed: its own status
        (["unsubscribed", "cleaned", "subscribed"], "cleaned"),  # winner active: cleaned beats unsubscribed
        (["pending", "subscribed"], "subscribed"),
    ],
)
def test_consent_wins(statuses: list[str], expected: str) -> None:
    res = run([{"email": "a@x.com", "status": s} for s in statuses])
    assert res.canonical.get_column(STATUS).to_list() == [expected]
    assert res.counts.merged_duplicate == len(statuses) - 1


def test_no_consent_is_not_a_suppression_the_winner_decides() -> None:
    rows = [{"Email Address": "a@x.com"}, {"Email Address": "a@x.com"}]
    assert run(rows, "mailchimp", files=[MC[0], MC[3]]).canonical[STATUS].to_list() == ["no_consent"]
    assert run(rows, "mailchimp", files=[MC[3], MC[0]]).canonical[STATUS].to_list() == ["subscribed"]


def test_tags_and_lists_are_the_union() -> None:
    res = run(
        [
            {"email": "a@x.com", "tags": "VIP, Blog", "lists": "News"},
            {"email": "a@x.com", "tags": "Blog, Events", "lists": "Promo,News"},
        ]
    )
    row = res.canonical.row(0, named=True)
    assert row[TAGS] == ["VIP", "Blog", "Events"]
    assert row[LISTS] == ["News", "Promo"]


def test_mailchimp_person_in_two_files_is_suppressed() -> None:
    res = run(
        [
            {"Email Address": "a@x.com", "First Name": "Ann"},
            {"Email Address": "A@x.com", "UNSUB_TIME": "2019-01-01 00:00:00"},
        ],
        "mailchimp",
        files=[MC[0], MC[1]],
    )
    row = res.canonical.row(0, named=True)
    assert row[STATUS] == "unsubscribed" and row["First Name"] == "Ann"
    group = res.duplicates.row(0, named=True)
    assert group["rows"] == 2 and group["statuses"] == ["subscribed", "unsubscribed"]


def test_a_row_with_a_bad_field_still_suppresses_its_address() -> None:
    """A bad cell costs its field only: the unsubscribed row stays a row (merged) and its consent wins."""
    res = run(
        [{"Email Address": "a@x.com"}, {"Email Address": "a@x.com", "Birthday": "99/99"}],
        "mailchimp",
        files=[MC[0], MC[1]],
    )
    assert res.counts.rejected == 0 and res.counts.valid == 1 and res.counts.merged_duplicate == 1
    assert res.canonical.get_column(STATUS).to_list() == ["unsubscribed"]
    assert res.field_problems.select("field", REASON_CODE, "reject_value").rows() == [
        ("Birthday", "bad_date", "99/99")
    ]


def test_invalid_email_rows_never_join_a_group() -> None:
    res = run([{"email": "a@x.com"}, {"email": "a@x.com@"}, {"email": "b@x.com"}])
    assert res.canonical.get_column(KEY).to_list() == ["a@x.com", "b@x.com"]
    assert res.duplicates.height == 0
    assert res.outcomes.get_column(OUTCOME).to_list() == ["valid", "rejected", "valid"]


def _canonical_rows(cells: list[tuple[int, str | None, str, str | None]]) -> pl.DataFrame:
    """A canonical frame as validate builds it: one row per (key index, status, First Name, event day)."""
    n = len(cells)
    return pl.DataFrame(
        {
            ROW_ID: list(range(n)),
            SOURCE_FILE: ["f.csv"] * n,
            SOURCE_LINE: [i + 2 for i in range(n)],
            EMAIL_RAW: [f"K{k}@x.com" for k, _, _, _ in cells],
            KEY: [f"k{k}@x.com" for k, _, _, _ in cells],
            STATUS: [s for _, _, s, _ in cells],
            TAGS: [[f"t{k}", "all"] for k, _, _, _ in cells],
            LISTS: [[] for _ in cells],
            EVENT_TIME: pl.Series([None if d is None else datetime(2024, 1, int(d)) for _, d, _, _ in cells]),
            "First Name": [f for _, _, _, f in cells],
        },
        schema_overrides={LISTS: pl.List(pl.String), EVENT_TIME: pl.Datetime("us", "UTC")},
    )


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.integers(0, 6),
            st.sampled_from([None, "1", "2", "3"]),
            st.sampled_from(["subscribed", "unsubscribed", "cleaned", "pending"]),
            st.sampled_from([None, "Ann", "Bob"]),
        ),
        min_size=1,
        max_size=30,
    ),
    mask_seed=st.integers(0, 2**16),
    shuffle=st.booleans(),
)
def test_collapse_with_a_valid_mask_equals_collapse_of_the_filtered_rows(
    cells: list[tuple[int, str | None, str, str | None]], mask_seed: int, shuffle: bool
) -> None:
    """The memory-saving path (mask instead of a filtered copy, rows in any order) changes no outcome."""
    rows = _canonical_rows(cells)
    valid = pl.Series([(mask_seed >> (i % 16)) & 1 == 0 or i % 5 == 0 for i in range(rows.height)])
    if shuffle:
        order = pl.Series(list(reversed(range(rows.height))))
        rows, valid = rows[order], valid.gather(order)
    sup = pl.DataFrame({KEY: ["k1@x.com"], STATUS: ["cleaned"]})
    got = collapse(rows, ["First Name"], sup, valid=valid)
    want = collapse(rows.filter(valid).sort(ROW_ID), ["First Name"], sup)
    assert got.canonical.equals(want.canonical)
    assert got.losers.sort(ROW_ID).equals(want.losers.sort(ROW_ID))
    assert got.groups.equals(want.groups)
    assert got.suppressed_by_rejects == want.suppressed_by_rejects
    assert got.canonical.get_column(KEY).n_unique() == got.canonical.height


def test_patch_rows_replaces_only_the_matched_cells() -> None:
    frame = pl.DataFrame({ROW_ID: [1, 3, 5, 7], STATUS: ["a", "b", "c", "d"], "x": ["p", "q", "r", "s"]})
    patch = pl.DataFrame({ROW_ID: [7, 3], STATUS: ["D", "b"], "x": ["S", None]})
    out = patch_rows(frame, patch)
    assert out.rows() == [(1, "a", "p"), (3, "b", None), (5, "c", "r"), (7, "D", "S")]
    with pytest.raises(RuntimeError):
        patch_rows(frame, pl.DataFrame({ROW_ID: [2], STATUS: ["z"], "x": ["z"]}))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 2**64 - 1), st.integers(0, 5)), max_size=40))
def test_sorted_duplicate_finder_equals_polars_is_duplicated(values: list[int | None]) -> None:
    """The sort-based finder marks exactly the non-null values polars marks as duplicated."""
    hashes = pl.Series(values, dtype=pl.UInt64)
    expected = hashes.is_duplicated() & hashes.is_not_null()
    assert _duplicated(hashes).to_list() == expected.to_list()


def test_latest_row_wins_still_when_its_field_is_unreadable() -> None:
    """The latest row's unreadable date is left out, so the field takes the newest readable value of an
    older row (an empty cell never erases data); the latest row still wins the rest."""
    res = run(
        [
            {
                "Email": "a@x.com",
                "First Name": "Old",
                "Create Date": "2/5/24 1:51",
                "Last Activity Date": "3/1/24 9:00",
            },
            {
                "Email": "A@x.com",
                "First Name": "New",
                "Create Date": "not a date",
                "Last Activity Date": "3/2/24 9:00",
            },
        ],
        "hubspot",
    )
    assert res.counts.valid == 1 and res.counts.merged_duplicate == 1 and res.counts.rejected == 0
    row = res.canonical.row(0, named=True)
    assert (row["First Name"], row["Created Date"]) == ("New", "2024-02-05")
    assert res.field_problems.select("row_id", "field").rows() == [(1, "Created Date")]
