"""Raw frame → one canonical row per source row, with the first problem found (if any) as a reject reason.

The whole pass is two polars selects; Python runs only on distinct values a fast expression could not
settle (unusual addresses, numbers like ``1e3``). Only the key and consent can reject a row, checked in a
fixed order (a row keeps the first): ``missing_email``, ``invalid_email``, ``unknown_status``. Each reject
also records the source column and the trimmed value (``reject_column``, ``reject_value``) for the
report's samples.

A field's cell that cannot be read (``bad_date``, ``bad_number``, ``bad_boolean``, ``too_long``) costs
that field only: the value is left out of the contact (null), the row stays valid, and the cell is
recorded as a *field problem* (``CanonicalRows.field_problems``) — one bad cell never costs a contact.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import polars as pl

from etl.mailbox import with_mailbox_keys
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
)
from etl.model import PROVENANCE as PROV
from etl.names import col as column
from etl.presets.consent import RANK, name_says
from etl.presets.preset import Preset
from etl.reasons import RejectReason
from etl.validate import rules
from etl.validate import status as consent
from etl.validate.canonical import ColumnPlan

REJECT_COLUMN = "reject_column"
REJECT_VALUE = "reject_value"
FIELD = "field"  # a field problem's field label (the field left out of the contact)
# a reject or field problem keeps at most this many characters of the value (``reject_value``, the
# report's samples): a 1 GB cell must not become a 1 GB report
FIELD_VALUE_CHARS = 200
TEMP = "__bme_"  # prefix of this module's working columns (canonical.py keeps field labels off it)
_VALUE_IN_MESSAGE = 80  # longest value quoted inside a reason message


@dataclass(frozen=True)
class _Check:
    """One way a row can fail: ``bad`` selects failing rows, the rest say what to record."""

    bad: pl.Expr
    code: RejectReason
    column: str
    value: pl.Expr
    message: pl.Expr


def _quoted(v: pl.Expr) -> pl.Expr:
    short = (
        pl.when(v.str.len_chars() > _VALUE_IN_MESSAGE)
        .then(pl.concat_str([v.str.slice(0, _VALUE_IN_MESSAGE), pl.lit("…")]))
        .otherwise(v)
    )
    return pl.concat_str([pl.lit('"'), short, pl.lit('"')])


def _col_msg(column: str, v: pl.Expr, tail: str) -> pl.Expr:
    return pl.concat_str([pl.lit(f'column "{column}": '), _quoted(v), pl.lit(tail)])


def file_statuses(files: list[str], preset: Preset) -> dict[str, str]:
    """Status implied by each source's base name: the longest matching prefix of the preset's
    ``status.files`` (Mailchimp's ``unsubscribed_``) — a sheet's own name tried first, then its workbook's
    (``rules.file_bases``) — and an opt-out either name states in words of its own (``name_says``:
    "unsubscribed.csv", "Bounced contacts.csv", a sheet "Abgemeldet"); the most restrictive of them."""
    out: dict[str, str] = {}
    prefixes = sorted(preset.status.files.items(), key=lambda kv: -len(kv[0]))
    for f in files:
        said = None
        for base in (b.casefold() for b in rules.file_bases(f)):
            said = next((status.value for prefix, status in prefixes if base.startswith(prefix)), None)
            if said is not None:
                break
        named = [name_says(stem) for stem in rules.file_stems(f)]
        found = [s for s in (said, *named) if s is not None]
        if found:
            out[f] = max(found, key=lambda s: RANK[s])
    return out


def _lookup(expr: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    if not mapping:
        return pl.lit(None, dtype=pl.String)
    return expr.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=pl.String)


def _lists(plan: ColumnPlan, preset: Preset, files: list[str]) -> pl.Expr:
    rule = preset.lists
    if rule.mode == "fixed" and rule.name:
        return pl.lit([rule.name], dtype=pl.List(pl.String))
    if rule.mode == "per_file":
        return pl.concat_list([_lookup(pl.col(SOURCE_FILE), {f: rules.file_stem(f) for f in files})])
    if rule.mode == "column" and plan.lists is not None:
        items = pl.col(f"{TEMP}lists")
        if rule.prefix:
            items = items.list.eval(pl.lit(rule.prefix) + pl.element())
        return items
    return rules.empty_list()


def _field_value(i: int, plan: ColumnPlan, parsed: Mapping[int, str]) -> pl.Expr:
    """Normalised value of field ``i`` (null when empty or unparseable; numbers finish in Python).

    A text field is its cleaned source column itself: no copy of a million cells."""
    fc, src = plan.fields[i], column(plan.fields[i].source)
    if fc.data_type == "date":
        return pl.col(parsed[i]).dt.strftime("%Y-%m-%d")
    if fc.data_type == "recurrent_date":
        return pl.col(parsed[i]).dt.strftime("%m-%d")
    if fc.data_type == "boolean":
        return rules.parse_boolean(src)
    if fc.data_type == "number":
        return rules.number_fast(src)
    return src


def _parse_dates(
    raw: pl.DataFrame, plan: ColumnPlan, preset: Preset, orders: dict[str, str] | None = None
) -> tuple[pl.DataFrame, dict[int, str], list[str]]:
    """Parse every date-bearing column once (``rules.cascade``) into working columns of ``raw``.

    Every column's first format is tried in one query (a column in its preset's format, the usual case,
    needs nothing else); only a column with cells that format left unparsed goes through the cascade.
    Returns the widened frame, field index → its parsed column, and the event_time columns' parsed names.
    """
    names: dict[tuple[str, tuple[str, ...], bool], str] = {}
    attempts: dict[str, list[rules.Attempt]] = {}

    def need(source: str, formats: tuple[str, ...], recurrent: bool) -> str:
        key = (source, formats, recurrent)
        if key not in names:
            names[key] = f"{TEMP}dt{len(names)}"
            tries = rules.recurrent_attempts(formats) if recurrent else rules.datetime_attempts(formats)
            attempts[names[key]] = tries
        return names[key]

    fields = {
        i: need(fc.source, plan.formats[i], fc.data_type == "recurrent_date")
        for i, fc in enumerate(plan.fields)
        if fc.data_type in ("date", "recurrent_date")
    }
    events = [need(c, tuple(preset.date_formats), False) for c in plan.event_time]
    if not names:
        return raw, fields, events
    source = {name: key[0] for key, name in names.items()}
    raw = raw.with_columns(attempts[n][0](column(source[n])).alias(n) for n in names.values())
    missed = raw.select(
        (column(source[n]).is_not_null() & pl.col(n).is_null()).any().alias(n) for n in names.values()
    ).row(0, named=True)
    redo = [n for n, bad in missed.items() if bad]
    if redo:  # cells are clean already (canonical_rows cleaned them): see rules.cascade
        raw = raw.with_columns(
            rules.cascade(raw.get_column(source[n]), attempts[n], trimmed=True, orders=orders).alias(n)
            for n in redo
        )
    return raw, fields, events


_FAIL = MappingProxyType(
    {
        "date": (RejectReason.BAD_DATE, " is not a date"),
        "recurrent_date": (RejectReason.BAD_DATE, " is not a date"),
        "boolean": (RejectReason.BAD_BOOLEAN, " is not true/false (yes/no, 1/0)"),
        "number": (RejectReason.BAD_NUMBER, " is not a number"),
    }
)


def _field_check(i: int, plan: ColumnPlan) -> _Check:
    """How field ``i`` fails, read from the first pass's trimmed cell (``__bme_raw{i}``) and normalised value."""
    fc = plan.fields[i]
    raw = pl.col(f"__bme_raw{i}") if fc.data_type in _FAIL else pl.col(fc.label)
    if fc.data_type in _FAIL:
        code, tail = _FAIL[fc.data_type]
        return _Check(
            raw.is_not_null() & column(fc.label).is_null(),
            code,
            fc.source,
            raw,
            _col_msg(fc.source, raw, tail),
        )
    n = raw.str.len_chars()
    msg = pl.concat_str(
        [
            pl.lit(f'column "{fc.source}": value is '),
            n.cast(pl.String),
            pl.lit(f" characters, more than {rules.MAX_TEXT_LENGTH}"),
        ]
    )
    return _Check((n > rules.MAX_TEXT_LENGTH).fill_null(False), RejectReason.TOO_LONG, fc.source, raw, msg)


FIELD_PROBLEM_SCHEMA = pl.Schema(
    {
        ROW_ID: pl.Int64,
        SOURCE_FILE: pl.String,
        SOURCE_LINE: pl.Int64,
        KEY: pl.String,
        REJECT_COLUMN: pl.String,
        FIELD: pl.String,
        REASON_CODE: pl.String,
        REASON: pl.String,
        REJECT_VALUE: pl.String,
    }
)


@dataclass(frozen=True)
class CanonicalRows:
    """``canonical_rows``' answer. ``rows``: every raw row canonicalised (PROVENANCE, EMAIL_RAW, KEY,
    STATUS, TAGS, LISTS, EVENT_TIME, one column per field label; a field's unreadable cell is null).
    ``rejected``: the mask of rows that must be rejected. ``problems``: those rows only, in row order —
    PROVENANCE, KEY, STATUS, REASON_CODE, REASON, REJECT_COLUMN, REJECT_VALUE (the reasons are built for
    these few rows, not for every row). ``field_problems``: one row per unreadable cell of a row that is
    not rejected (FIELD_PROBLEM_SCHEMA, in row then column order), built for those cells only.
    ``undecided``: the keys of the rows not rejected whose consent is undecided (``status.undecided``):
    their person's status is unknown until someone settles the column, whatever STATUS says."""

    rows: pl.DataFrame
    rejected: pl.Series
    problems: pl.DataFrame
    field_problems: pl.DataFrame
    consent_values: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=consent.CONSENT_SCHEMA))
    status_sources: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=consent.SOURCES_SCHEMA))
    undecided: pl.Series = field(default_factory=lambda: pl.Series(KEY, [], dtype=pl.String))


def canonical_rows(
    raw: pl.DataFrame,
    plan: ColumnPlan,
    preset: Preset,
    headers_by_file: Mapping[str, Collection[str]] | None = None,
    date_orders: dict[str, str] | None = None,
) -> CanonicalRows:
    """Every raw row, canonicalised, and the first problem of each row that must be rejected.

    ``headers_by_file`` (source_file → its header) lets a status flag ignore files that lack its column;
    None means every file has every column. ``date_orders`` (source column → day/month order proven so
    far) is kept by the caller across batches of one export (see ``rules.sheet_dates``).
    """
    files = raw.get_column(SOURCE_FILE).unique().to_list()
    # Every rule reads trimmed cells: clean the used columns once, up front (only those that need it), and
    # keep the address as read for EMAIL_RAW.
    raw = rules.cleaned(
        raw.with_columns(column(plan.email).alias(f"{TEMP}email_raw")),
        [
            plan.email,
            *([plan.status] if plan.status else []),
            *(c for c in (plan.tags, plan.lists) if c),
            *plan.event_time,
            *(fc.source for fc in plan.fields),
        ],
    )
    email = column(plan.email)
    raw, parsed, events = _parse_dates(raw, plan, preset, date_orders)
    if preset.lists.mode == "column" and plan.lists is not None:
        fmt = preset.lists.format or preset.lists.separator
        raw = raw.with_columns(rules.split_column(raw.get_column(plan.lists), fmt).alias(f"{TEMP}lists"))
    event = pl.coalesce([pl.col(c) for c in events] or [pl.lit(None, dtype=pl.Datetime("us"))])
    if plan.tags:
        raw = raw.with_columns(
            rules.split_column(raw.get_column(plan.tags), preset.tags.format).alias(f"{TEMP}tags")
        )
    tags = pl.col(f"{TEMP}tags") if plan.tags else rules.empty_list()
    # the status and the consent readings in stages of their own (see consent.with_status)
    raw = consent.with_status(raw, plan, preset, file_statuses(files, preset), headers_by_file)
    found = consent.consent_values(raw, plan, headers_by_file)
    unsure = consent.undecided(plan, found)
    first = raw.select(
        *PROV,
        pl.col(f"{TEMP}email_raw").alias(EMAIL_RAW),
        email.str.to_lowercase().alias(KEY),
        *_status_columns(unsure),
        tags.alias(TAGS),
        _lists(plan, preset, files).alias(LISTS),
        event.dt.replace_time_zone("UTC").alias(EVENT_TIME),
        *[_field_value(i, plan, parsed).alias(fc.label) for i, fc in enumerate(plan.fields)],
        email.alias("__bme_email"),
        rules.email_fast_ok(email).alias("__bme_email_ok"),
        *[
            column(fc.source).alias(f"__bme_raw{i}")
            for i, fc in enumerate(plan.fields)
            if fc.data_type in _FAIL
        ],
    )
    first = with_mailbox_keys(_finish_numbers(first, plan), KEY)  # one key per mailbox (etl/mailbox.py)
    slow = (
        first.filter(pl.col("__bme_email").is_not_null() & ~pl.col("__bme_email_ok"))
        .select(pl.col("__bme_email").unique().alias("v"))
        .with_columns(rules.email_surely_bad(pl.col("v")).alias("bad"))
    )
    bad_emails = sorted(
        {
            *slow.filter("bad").get_column("v"),
            *rules.invalid_emails(slow.filter(~pl.col("bad")).get_column("v")),
        }
    )
    word = pl.col(consent.WORD)
    checks = [
        _Check(
            pl.col("__bme_email").is_null(),
            RejectReason.MISSING_EMAIL,
            plan.email,
            pl.lit(None, dtype=pl.String),
            pl.lit(f'no email address in column "{plan.email}"'),
        ),
        _Check(
            pl.col("__bme_email").is_in(bad_emails),
            RejectReason.INVALID_EMAIL,
            plan.email,
            pl.col("__bme_email"),
            _col_msg(plan.email, pl.col("__bme_email"), " is not a valid email address"),
        ),
        _Check(
            pl.col(consent.UNKNOWN),
            RejectReason.UNKNOWN_STATUS,
            plan.status or "",
            word,
            _col_msg(plan.status or "", word, " is not a known status"),
        ),
    ]
    # Which rows fail is one pass of booleans; which check each failed row failed first (and its message)
    # is worked out on those rows alone, from the columns the checks read.
    rejected = first.select(pl.any_horizontal(c.bad for c in checks).fill_null(False)).to_series()
    problems = first.filter(rejected).select(
        ROW_ID,
        SOURCE_FILE,
        SOURCE_LINE,
        KEY,
        STATUS,
        _chain(checks, lambda c: pl.lit(c.code)).alias(REASON_CODE),
        _chain(checks, lambda c: c.message).alias(REASON),
        _chain(checks, lambda c: pl.lit(c.column)).alias(REJECT_COLUMN),
        _chain(checks, lambda c: c.value).str.slice(0, FIELD_VALUE_CHARS).alias(REJECT_VALUE),
    )
    sources = consent.status_sources(first, ~rejected)
    undecided = (
        first.get_column(KEY).filter(first.get_column(consent.UNDECIDED) & ~rejected)
        if unsure is not None
        else pl.Series(KEY, [], dtype=pl.String)
    )
    first, field_problems = _field_problems(first, plan, rejected)
    rows = first.drop([c for c in first.columns if c.startswith(TEMP)])
    return CanonicalRows(rows, rejected, problems, field_problems, found, sources, undecided)


def _status_columns(unsure: consent.Undecided | None) -> list[pl.Expr]:
    """STATUS, BY, VALUE, WORD, UNKNOWN and, when some row is undecided, UNDECIDED marking it; an undecided
    row's BY and VALUE then name its unreadable cell (the status sources count it as undecided by that
    column, ``consent.status_sources``)."""
    plain = [pl.col(c) for c in (STATUS, consent.BY, consent.VALUE, consent.WORD, consent.UNKNOWN)]
    if unsure is None:
        return plain
    return [
        plain[0],
        pl.when(unsure.flag).then(unsure.by).otherwise(pl.col(consent.BY)).alias(consent.BY),
        pl.when(unsure.flag).then(unsure.value).otherwise(pl.col(consent.VALUE)).alias(consent.VALUE),
        *plain[3:],
        unsure.flag.alias(consent.UNDECIDED),
    ]


def _field_problems(
    first: pl.DataFrame, plan: ColumnPlan, rejected: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Unreadable cells of the rows that are not rejected: left out of the row (a too-long text is nulled;
    a typed value that did not parse is null already) and listed, one row per cell.

    One boolean pass finds the fields with such a cell at all; the table is built for those cells only
    (usually none), never a column per row."""
    checks = {i: _field_check(i, plan) for i in _checked_fields(first, plan)}
    if not checks or first.height == 0 or rejected.all():
        return first, pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    first = first.with_columns(rejected.alias(f"{TEMP}rejected"))
    kept = ~pl.col(f"{TEMP}rejected")
    hit = first.select((c.bad & kept).fill_null(False).any().alias(str(i)) for i, c in checks.items()).row(0)
    bad = {i: c for (i, c), h in zip(checks.items(), hit, strict=True) if h}
    if not bad:
        return first, pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    parts = [
        first.filter(c.bad & kept).select(
            ROW_ID,
            SOURCE_FILE,
            SOURCE_LINE,
            KEY,
            pl.lit(c.column, dtype=pl.String).alias(REJECT_COLUMN),
            pl.lit(plan.fields[i].label, dtype=pl.String).alias(FIELD),
            pl.lit(c.code, dtype=pl.String).alias(REASON_CODE),
            c.message.alias(REASON),
            c.value.str.slice(0, FIELD_VALUE_CHARS).alias(REJECT_VALUE),
            pl.lit(i, dtype=pl.Int32).alias("__bme_order"),
        )
        for i, c in bad.items()
    ]
    table = pl.concat(parts).sort(ROW_ID, "__bme_order").drop("__bme_order")
    long = [
        i for i, c in bad.items() if c.code == RejectReason.TOO_LONG
    ]  # typed fields hold null there already
    if long:
        first = first.with_columns(
            pl.when(checks[i].bad)
            .then(None)
            .otherwise(column(plan.fields[i].label))
            .alias(plan.fields[i].label)
            for i in long
        )
    return first, table.select(list(FIELD_PROBLEM_SCHEMA))


def _checked_fields(first: pl.DataFrame, plan: ColumnPlan) -> list[int]:
    """The fields whose check can fire in this batch: every parsed type, and text only where some cell
    has more bytes than the limit allows characters (fewer bytes means fewer characters: counting the
    characters of every cell, a pass over all the text, would find nothing)."""
    text = [i for i, fc in enumerate(plan.fields) if fc.data_type not in _FAIL]
    longest = (
        first.select(column(plan.fields[i].label).str.len_bytes().max() for i in text).row(0) if text else ()
    )
    long = {i for i, n in zip(text, longest, strict=True) if n is not None and n > rules.MAX_TEXT_LENGTH}
    plain = set(text)
    return [i for i in range(len(plan.fields)) if i not in plain or i in long]


def _chain(checks: list[_Check], pick: Callable[[_Check], pl.Expr]) -> pl.Expr:
    expr: Any = None
    for c in checks:
        expr = (pl.when(c.bad) if expr is None else expr.when(c.bad)).then(pick(c))
    return expr if expr is not None else pl.lit(None, dtype=pl.String)


def _finish_numbers(frame: pl.DataFrame, plan: ColumnPlan) -> pl.DataFrame:
    """Number cells not already in plain form are normalised in Python, one call per distinct value."""
    updates = []
    for i, fc in enumerate(plan.fields):
        if fc.data_type != "number":
            continue
        todo = frame.filter(pl.col(fc.label).is_null() & pl.col(f"__bme_raw{i}").is_not_null())
        values = todo.get_column(f"__bme_raw{i}").unique().to_list()
        fixed = {v: n for v in values if (n := rules.normalise_number(v)) is not None}
        if fixed:
            updates.append(
                pl.coalesce(pl.col(fc.label), _lookup(pl.col(f"__bme_raw{i}"), fixed)).alias(fc.label)
            )
    return frame.with_columns(updates) if updates else frame
