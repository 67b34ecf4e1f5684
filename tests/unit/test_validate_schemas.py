"""The pandera contract on the canonical frame: value failures → row rejects; schema failures → a bug."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.model import FieldColumn
from etl.validate.core import Counts
from etl.validate.schemas import contract_rejects, contract_schema, screen
from tests.unit.test_validate_rules import run

FIELDS = [
    FieldColumn("Birthday", "BDAY", "recurrent_date"),
    FieldColumn("Opt In", "OPTIN", "date"),
    FieldColumn("VIP", "VIP", "boolean"),
    FieldColumn("Age", "AGE", "number"),
    FieldColumn("Notes", "N"),
]


def frame(**over: list) -> pl.DataFrame:
    base: dict[str, list] = {
        "row_id": [1, 2],
        "source_file": ["a.csv", "a.csv"],
        "source_line": [2, 3],
        "email_raw": ["A@x.com", "b@x.com"],
        "key": ["a@x.com", "b@x.com"],
        "status": ["subscribed", "cleaned"],
        "tags": [["t"], []],
        "lists": [[], ["L"]],
        "event_time": [None, dt.datetime(2020, 1, 1, tzinfo=dt.UTC)],
        "Birthday": ["02-29", None],
        "Opt In": ["2020-01-31", None],
        "VIP": ["true", None],
        "Age": ["-1.5", None],
        "Notes": ["x", None],
    }
    base.update(over)
    return pl.DataFrame(
        base,
        schema_overrides={
            "row_id": pl.Int64,
            "source_line": pl.Int64,
            "event_time": pl.Datetime("us", "UTC"),
            "tags": pl.List(pl.String),
            "lists": pl.List(pl.String),
        },
    )


def test_a_conforming_frame_has_no_rejects() -> None:
    assert contract_rejects(frame(), FIELDS).height == 0


@pytest.mark.parametrize(
    ("column", "values", "code", "bad_row"),
    [
        ("key", ["a@x.com", "B@x.com"], "contract_key", 2),
        ("key", [" a@x.com", "b@x.com"], "contract_key", 1),
        ("status", ["subscribed", "active"], "contract_status", 2),
        ("source_line", [0, 3], "contract_source_line", 1),
        ("row_id", [7, 7], "contract_row_id", 7),
        ("Birthday", ["2-29", None], "contract_field", 1),
        ("Opt In", [None, "2020-1-1"], "contract_field", 2),
        ("VIP", ["yes", None], "contract_field", 1),
        ("Age", ["1e3", None], "contract_field", 1),
        ("Notes", ["", None], "contract_field", 1),
    ],
)
def test_value_failures_become_row_rejects(column: str, values: list, code: str, bad_row: int) -> None:
    out = contract_rejects(frame(**{column: values}), FIELDS)
    assert out.get_column("reason_code").unique().to_list() == [code]
    assert bad_row in out.get_column("row_id").to_list()
    if column in ("Birthday", "VIP"):
        assert out.row(0, named=True)["column"] == {"Birthday": "BDAY", "VIP": "VIP"}[column]  # source header


def test_schema_level_failure_is_our_bug() -> None:
    with pytest.raises(RuntimeError, match="breaks its own contract"):
        contract_rejects(frame().drop("status"), FIELDS)


_TEXT = st.one_of(
    st.none(),
    st.sampled_from(
        ["", " ", "x", "X y", "a" * 255, "a" * 256, "é" * 128, "é" * 255, "é" * 256, "a@b.c", " a@b.c"]
    ),
)
_KEYS = [
    "a@x.com",
    "B@x.com",
    " a@x.com",
    "a@x.com ",
    "a@",
    "ab",
    "a b@x.com",
    "é@x.com",
    "É@x.com",
    "a@bücher.de",
]
_CELLS = {
    "key": st.one_of(st.none(), st.sampled_from(_KEYS)),
    "status": st.one_of(st.none(), st.sampled_from(["subscribed", "cleaned", "active", ""])),
    "source_line": st.one_of(st.none(), st.integers(-1, 3)),
    "source_file": st.one_of(st.none(), st.sampled_from(["a.csv", ""])),
    "Birthday": st.one_of(st.none(), st.sampled_from(["02-29", "2-29", "12-31 ", ""])),
    "Opt In": st.one_of(st.none(), st.sampled_from(["2020-01-31", "2020-1-1", "20200131"])),
    "VIP": st.one_of(st.none(), st.sampled_from(["true", "false", "yes", "TRUE"])),
    "Age": st.one_of(st.none(), st.sampled_from(["-1.5", "3", "1e3", "1.", ".5"])),
    "Notes": _TEXT,
}


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries({c: st.lists(v, min_size=2, max_size=2) for c, v in _CELLS.items()}),
    st.sampled_from([[1, 2], [2, 1], [5, 5]]),
)
def test_the_fused_screen_agrees_with_pandera(cells: dict, ids: list[int]) -> None:
    """``screen`` lets a frame skip pandera only when pandera would find nothing, and finds nothing where
    pandera finds nothing (so the fast path is taken whenever it may be)."""
    f = frame(**cells, row_id=ids)
    try:
        contract_schema(FIELDS).validate(f, lazy=True)
        pandera_ok = True
    except pa.errors.SchemaErrors:
        pandera_ok = False
    assert screen(f, FIELDS) == pandera_ok


def test_rows_outside_only_do_not_send_the_frame_to_pandera() -> None:
    bad_second = frame(key=["a@x.com", "B@x.com"])
    assert not screen(bad_second, FIELDS)
    assert screen(bad_second, FIELDS, only=pl.Series([True, False]))
    assert contract_rejects(bad_second, FIELDS, only=pl.Series([True, False])).height == 0
    assert contract_rejects(bad_second, FIELDS, only=pl.Series([True, True])).get_column(
        "row_id"
    ).to_list() == [2]


def test_a_row_breaking_the_contract_is_rejected_in_row_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: when canonicalisation lets a bad key through (a bug pandera exists to catch), that
    row — and only it — is rejected with the contract's reason, between the rules' own rejects."""
    import etl.validate.core as core
    from etl.validate.rows import canonical_rows

    def corrupt(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        found = canonical_rows(*args, **kwargs)  # type: ignore[arg-type]
        bad = found.rows.with_columns(
            pl.when(pl.col("row_id") == 1).then(pl.lit("B@X.COM")).otherwise(pl.col("key")).alias("key")
        )
        return type(found)(bad, found.rejected, found.problems, found.field_problems)

    monkeypatch.setattr(core, "canonical_rows", corrupt)
    res = run([{"Email": "a@x.com"}, {"Email": "b@x.com"}, {"Email": "not-an-address"}, {"Email": "c@x.com"}])
    assert res.counts == Counts(rows_read=4, valid=2, rejected=2, merged_duplicate=0)
    assert res.rejections.get_column("row_id").to_list() == [1, 2]
    assert res.rejections.get_column("reason_code").to_list() == ["contract_key", "invalid_email"]
    assert res.canonical.get_column("key").to_list() == ["a@x.com", "c@x.com"]
