"""The canonical frame's contract, as pandera polars models.

pandera's role is the *contract check*: after ``rows.py`` has parsed and normalised every value (and
rejected what it could not parse, with precise reasons), the rows that passed are validated against this
contract. A failing value is turned into a row reject with a stable ``contract_*`` reason code; a failure
that is not tied to a row (a missing column, a wrong dtype: pandera's null ``index``) means our own
canonicalisation is broken, so it raises instead of rejecting a whole file.

Frames are validated EAGER with ``lazy=True`` (collect every failure): a LazyFrame would only get
schema-level checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import pandera.polars as pa
import polars as pl

from etl.model import REASON, REASON_CODE, ROW_ID, FieldColumn, Status
from etl.names import positions
from etl.validate.rules import MAX_TEXT_LENGTH

KEY_PATTERN = r"^[^\s@]+@[^\s@]+\.?[^\s@]*$"  # the shape only: the grammar was checked by email-validator
FIELD_PATTERNS = MappingProxyType(
    {
        "date": r"^\d{4}-\d{2}-\d{2}$",
        "recurrent_date": r"^\d{2}-\d{2}$",
        "number": r"^-?\d+(\.\d+)?$",
    }
)


class CanonicalRows(pa.DataFrameModel):
    """One canonical row per valid source row (before duplicates collapse). Field columns are added by
    ``contract_schema``; list and datetime columns are checked for dtype only."""

    row_id: pl.Int64 = pa.Field(unique=True)
    source_file: str = pa.Field(str_length={"min_value": 1})
    source_line: pl.Int64 = pa.Field(ge=1)
    email_raw: str = pa.Field()
    key: str = pa.Field(str_matches=KEY_PATTERN, str_length={"min_value": 3, "max_value": 254})
    status: str = pa.Field(isin=[s.value for s in Status])
    tags: pl.List(pl.String) = pa.Field()  # type: ignore[valid-type]
    lists: pl.List(pl.String) = pa.Field()  # type: ignore[valid-type]
    event_time: pl.Datetime(time_zone="UTC") = pa.Field(nullable=True)  # type: ignore[valid-type]

    class Config:
        strict = False

    @pa.check("key", name="lower_case_trimmed")
    def _key_normalised(cls, data: pa.PolarsData) -> pl.LazyFrame:
        k = pl.col(data.key)
        return data.lazyframe.select(k == k.str.to_lowercase().str.strip_chars())


def contract_schema(fields: Sequence[FieldColumn]) -> pa.DataFrameSchema:
    """The full contract: ``CanonicalRows`` plus one nullable str column per field, checked by data type."""
    extra = {}
    for fc in fields:
        if fc.data_type in FIELD_PATTERNS:
            check = pa.Check.str_matches(FIELD_PATTERNS[fc.data_type])
        elif fc.data_type == "boolean":
            check = pa.Check.isin(["true", "false"])
        else:
            check = pa.Check.str_length(min_value=1, max_value=MAX_TEXT_LENGTH)
        extra[fc.label] = pa.Column(str, check, nullable=True, required=True)
    return CanonicalRows.to_schema().add_columns(extra)


# A key this matches passes the key checks of ``CanonicalRows`` outright: it matches KEY_PATTERN, has no
# whitespace to trim and no letter to lower (ASCII, no capitals). Nearly every key does; ``screen`` checks
# the others exactly.
_PLAIN_KEY = r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9._-]+$"


@lru_cache(maxsize=8)
def _shared_schema(fields: tuple[FieldColumn, ...]) -> pa.DataFrameSchema:
    """``contract_schema``, built once per field list: building it (pandera deep-copies its columns)
    costs more than screening a batch. Read only: never modify what this returns."""
    return contract_schema(fields)


@lru_cache(maxsize=1)
def _base_columns() -> dict[str, tuple[Any, bool]]:
    """``CanonicalRows``' columns: name → (polars dtype, nullable), as pandera checks them."""
    return {n: (c.dtype.type, c.nullable) for n, c in CanonicalRows.to_schema().columns.items()}


def _field_ok(fc: FieldColumn, v: pl.Expr, *, quick: bool = False) -> pl.Expr:
    """``contract_schema``'s check of one field column ``v`` as one expression (null passes: nullable).

    ``quick``: a text length in bytes instead of characters — a sufficient condition (no more bytes than
    the limit means no more characters; one byte means one character), free of a pass over the text.
    """
    if fc.data_type in FIELD_PATTERNS:
        ok = v.str.contains(FIELD_PATTERNS[fc.data_type])
    elif fc.data_type == "boolean":
        ok = v.is_in(["true", "false"])
    elif quick:
        ok = v.str.len_bytes().is_between(1, MAX_TEXT_LENGTH)
    else:
        ok = v.str.len_chars().is_between(1, MAX_TEXT_LENGTH)
    return v.is_null() | ok


def screen(frame: pl.DataFrame, fields: Sequence[FieldColumn], only: pl.Series | None = None) -> bool:
    """True when no row of ``frame`` (of the rows ``only`` marks, if given) can fail the contract: every
    check of ``contract_schema`` fused into one pass (pandera runs one query per check, ~40 ms a call
    whatever the size). Any doubt — a failing row, an unexpected column or dtype — returns False and
    pandera gives the exact verdict.

    Two stages: sufficient conditions that cost no pass over the text where they can (``_PLAIN_KEY``,
    lengths in bytes) on every row, then the exact checks on the rows those did not clear.
    """
    # dtypes and nullability as pandera will check them; every field column is a nullable str. Not read
    # from ``contract_schema``: pandera builds it one deep copy per column, seconds for 10,000 fields
    base = _base_columns()
    schema = frame.schema
    if any(schema.get(name) != dtype for name, (dtype, _) in base.items()):
        return False
    if any(schema.get(fc.label) != pl.String for fc in fields):
        return False
    if frame.height == 0:
        return True
    ids = frame.get_column("row_id")
    unique = bool((ids.diff().drop_nulls() > 0).all()) or not ids.is_duplicated().any()
    if not unique:
        return False
    key = pl.col("key")

    def ok(quick: bool) -> pl.Expr:
        key_ok = (
            key.str.contains(_PLAIN_KEY)
            if quick
            else key.str.contains(KEY_PATTERN) & (key == key.str.to_lowercase().str.strip_chars())
        )
        at = positions(frame)
        return pl.all_horizontal(
            # pl.nth, never pl.col(label): a label may be "*" or "^…$", which pl.col reads as a pattern
            *(pl.nth(at[n]).is_not_null() for n, (_, nullable) in base.items() if not nullable),
            pl.col("source_file").str.len_chars() >= 1,
            pl.col("source_line") >= 1,
            key_ok,
            key.str.len_chars().is_between(3, 254),
            pl.col("status").is_in([s.value for s in Status]),
            *(_field_ok(fc, pl.nth(at[fc.label]), quick=quick) for fc in fields),
        ).fill_null(False)

    cleared = frame.select(ok(True)).to_series()
    doubt = ~cleared if only is None else only & ~cleared
    if not doubt.any():
        return True
    return bool(frame.filter(doubt).select(ok(False).all()).item())


def contract_rejects(
    frame: pl.DataFrame, fields: Sequence[FieldColumn], *, only: pl.Series | None = None
) -> pl.DataFrame:
    """Validate ``frame`` against the contract; return (ROW_ID, REASON_CODE, REASON, column, value) per
    failing row (first failure per row). Raises ``RuntimeError`` on a schema-level failure (our bug).

    ``only`` (a mask over ``frame``) names the rows whose failures matter: when none of them can fail
    (``screen``), pandera is not run; otherwise it runs on the whole frame and may report other rows too.
    """
    empty = pl.DataFrame(
        schema={
            ROW_ID: pl.Int64,
            REASON_CODE: pl.String,
            REASON: pl.String,
            "column": pl.String,
            "value": pl.String,
        }
    )
    if screen(frame, fields, only):
        return empty
    try:
        _shared_schema(tuple(fields)).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty
    if cases.get_column("index").null_count():
        broken = cases.filter(pl.col("index").is_null()).select("column", "check", "failure_case").rows()
        raise RuntimeError(f"canonical frame breaks its own contract (a bug in validate): {broken[:5]}")
    labels = {fc.label: fc.source for fc in fields}
    ids = frame.get_column(ROW_ID)
    out = (
        cases.with_columns(pl.col("index").cast(pl.Int64))
        .sort("index", "check_number", nulls_last=True)
        .unique("index", keep="first", maintain_order=True)
        .with_columns(
            pl.col("index").map_batches(lambda s: ids.gather(s), return_dtype=pl.Int64).alias(ROW_ID),
            (
                pl.lit("contract_")
                + pl.when(pl.col("column").is_in(list(labels)))
                .then(pl.lit("field"))
                .otherwise(pl.col("column"))
            ).alias(REASON_CODE),
            pl.col("column").replace(labels).alias("column"),
            pl.col("failure_case").alias("value"),
        )
        .with_columns(
            pl.concat_str(
                [
                    pl.lit('column "'),
                    pl.col("column"),
                    pl.lit('": "'),
                    pl.col("value").fill_null(""),
                    pl.lit('" fails the canonical contract ('),
                    pl.col("check"),
                    pl.lit(")"),
                ]
            ).alias(REASON)
        )
    )
    return out.select(empty.columns)
