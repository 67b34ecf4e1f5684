"""Canonical frame + resolved ids → ``PlannedContact``s: the desired state of each target contact.

Policies (documented in docs/presets.md):

* **Types**: every value is coerced to the *account field's* ``dataType`` (``ResolvedMapping.field_types``):
  dates ``YYYY-MM-DD``, recurrent dates ``MM-DD``, ``true``/``false``, plain decimals; text as is. A value
  that cannot be coerced is left out of the contact (never mangled) and recorded as a field problem
  (``type_mismatch``, naming the column, the field and the value: ``TransformResult.field_problems``);
  the contact still loads — only the key and consent can reject a row.
* **Empty cells** are omitted, so an empty source cell never blanks a value already in the account.
* **Status**: subscribed → Active; unsubscribed and cleaned → Inactive/Unsubscribe; pending and
  no_consent are skipped (``unconfirmed`` / ``no_consent``) unless ``import_unconfirmed``, which imports
  them as Inactive/Unsubscribe (never Active: there is no proof of consent).
* **Lists**: the row's list names plus ``resolved.extra_lists``; **tags**: the row's tag labels; all as ids,
  de-duplicated and sorted, like ``fields`` (sorted by field ``_id``).

Work is vectorised in polars; ``PlannedContact`` objects are built in one pass at the end.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import overload

import polars as pl

from etl.errors import MappingError
from etl.model import (
    BME_ACTIVE,
    BME_INACTIVE,
    BME_UNSUBSCRIBE,
    FIRST_NAME,
    KEY,
    LAST_NAME,
    LISTS,
    PLAN_COLUMNS,
    REASON,
    REASON_CODE,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TAGS,
    FieldColumn,
    PlannedContact,
    ResolvedMapping,
    Status,
)
from etl.names import col as column
from etl.reasons import RejectReason
from etl.validate import rules
from etl.validate.rows import FIELD, FIELD_PROBLEM_SCHEMA, FIELD_VALUE_CHARS, REJECT_COLUMN, REJECT_VALUE

SKIP_REASONS = MappingProxyType(
    {
        Status.PENDING.value: (
            RejectReason.UNCONFIRMED.value,
            "unconfirmed (pending double opt-in): not imported without --import-unconfirmed",
        ),
        Status.NO_CONSENT.value: (
            RejectReason.NO_CONSENT.value,
            "no marketing consent recorded: not imported without --import-unconfirmed",
        ),
    }
)
ISSUE_SCHEMA = MappingProxyType({ROW_ID: pl.Int64, KEY: pl.String, REASON_CODE: pl.String, REASON: pl.String})
_TYPE_WORDS = MappingProxyType(
    {
        "number": "a number",
        "date": "a date",
        "recurrent_date": "a month-day date",
        "boolean": "true/false",
    }
)


CHUNK_ROWS = 50_000  # contacts built at a time when a plan is iterated


class PlannedContacts(Sequence[PlannedContact]):
    """The planned contacts, built a chunk of rows at a time as they are iterated.

    What is kept is the plan's frame (key, row id, status, list and tag ids, coerced values: columns), not a
    million ``PlannedContact`` objects: those cost ~2.4 KB each, ~2.4 GB for a million-contact run. Every
    iteration builds them again; ``keys`` reads the key column without building any.
    """

    def __init__(
        self,
        frame: pl.DataFrame,
        fids: list[str],
        groups: dict[str, tuple[int, ...]],
        *,
        chunk_rows: int = CHUNK_ROWS,
        columns: Sequence[pl.Expr] | None = None,
        rows: pl.Series | None = None,
    ) -> None:
        """``frame`` holds the plan's columns, or (with ``columns``, the expressions that compute them from
        ``frame``'s) what they are computed from, a chunk at a time; ``rows``: the positions of ``frame``'s
        rows that are planned (None: every row)."""
        self._frame = frame
        self._fids = fids
        self._groups = groups
        self._chunk = chunk_rows  # contacts built at a time
        self._columns = None if columns is None else list(columns)
        self._rows = rows
        self._merged: pl.DataFrame | None = None  # ``groups`` as a frame, built once (``_plan_frame``)

    def __len__(self) -> int:
        return self._frame.height if self._rows is None else self._rows.len()

    def _part(self, start: int, length: int) -> pl.DataFrame:
        """Contacts ``start``… of the plan as the plan's columns (KEY, ROW_ID, STATUS, _lists, _tags, _v…)."""
        if self._rows is None:
            part = self._frame.slice(start, length)
        else:
            part = self._frame[self._rows.slice(start, length)]
        return part if self._columns is None else part.select(self._columns)

    def __iter__(self) -> Iterator[PlannedContact]:
        for start in range(0, len(self), self._chunk):
            yield from _build(self._part(start, self._chunk), self._fids, self._groups)

    @overload
    def __getitem__(self, index: int) -> PlannedContact: ...

    @overload
    def __getitem__(self, index: slice) -> list[PlannedContact]: ...

    def __getitem__(self, index: int | slice) -> PlannedContact | list[PlannedContact]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return [self[i] for i in range(start, stop, step)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("planned contact index out of range")
        return _build(self._part(index, 1), self._fids, self._groups)[0]

    def keys(self) -> list[str]:
        keys = self._frame.get_column(KEY)
        return (keys if self._rows is None else keys.gather(self._rows)).to_list()

    @property
    def field_ids(self) -> list[str]:
        """The field ids a document's ``v`` values stand for, in order (sorted)."""
        return list(self._fids)

    def plan_frames(self) -> Iterator[pl.DataFrame]:
        """The plan as columns (``PLAN_COLUMNS``), ``chunk_rows`` contacts at a time in plan order, built by
        polars without one Python object per contact; the ledger encodes them (``plan_documents``)."""
        for start in range(0, len(self), self._chunk):
            yield self._plan_frame(self._part(start, self._chunk))

    def _plan_frame(self, f: pl.DataFrame) -> pl.DataFrame:
        row_ids = pl.concat_list(pl.col(ROW_ID).cast(pl.Int64))
        if self._groups:
            if self._merged is None:  # once, not per chunk: building it from Python objects is the cost
                self._merged = pl.DataFrame(
                    {KEY: list(self._groups), "_rids": [list(v) for v in self._groups.values()]},
                    schema={KEY: pl.String, "_rids": pl.List(pl.Int64)},
                )
            f = f.join(self._merged, on=KEY, how="left", maintain_order="left")
            row_ids = pl.coalesce(pl.col("_rids"), row_ids)
        values = (
            pl.concat_list([pl.col(f"_v{i}") for i in range(len(self._fids))])
            if self._fids
            else pl.lit([], dtype=pl.List(pl.String))
        )
        active = pl.col(STATUS) == Status.SUBSCRIBED.value
        columns = (
            pl.col(KEY),
            row_ids,
            values,
            _id_list("_lists"),
            _id_list("_tags"),
            pl.when(active).then(pl.lit(BME_ACTIVE)).otherwise(pl.lit(BME_INACTIVE)),
            pl.when(active).then(pl.lit(None, dtype=pl.String)).otherwise(pl.lit(BME_UNSUBSCRIBE)),
        )
        return f.select(c.alias(name) for c, name in zip(columns, PLAN_COLUMNS, strict=True))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same contacts in the same order (a list, say)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list


def _id_list(column: str) -> pl.Expr:
    """A ``SEP``-joined id cell as a list of ids (an empty cell: no id), as ``_build`` reads it."""
    c = pl.col(column)
    return pl.when(c == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(c.str.split(SEP))


def plan_keys(plans: Sequence[PlannedContact]) -> list[str]:
    """The keys of ``plans``, without building the contacts when they are a ``PlannedContacts``."""
    return plans.keys() if isinstance(plans, PlannedContacts) else [p.key for p in plans]


@dataclass(frozen=True)
class TransformResult:
    """``rejected``/``skipped``: one row per source row id (merged duplicates included): ISSUE_SCHEMA.
    ``contacts``: a ``PlannedContacts`` (built as iterated) or, from tests, a list. ``field_problems``:
    one row per value left out because the account's field type cannot take it (``type_mismatch``), in
    validate's ``FIELD_PROBLEM_SCHEMA`` (the contact's own row: the winner of merged duplicates)."""

    contacts: Sequence[PlannedContact]
    rejected: pl.DataFrame
    skipped: pl.DataFrame
    field_problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA))


def distinct_names(frame: pl.DataFrame) -> tuple[list[str], list[str]]:
    """The list names and tag labels a canonical frame uses (what resolution must find or create)."""

    def uniq(col: str) -> list[str]:
        if col not in frame.columns or frame.height == 0:
            return []
        s = frame.get_column(col).explode().drop_nulls().unique(maintain_order=True)
        return [x for x in s.to_list() if x]

    return uniq(LISTS), uniq(TAGS)


def _column_for(col: FieldColumn, columns: Sequence[str]) -> str:
    if col.label in columns:
        return col.label
    fallback = {"firstName": FIRST_NAME, "lastName": LAST_NAME}.get(col.predefined or "")
    if fallback and fallback in columns:
        return fallback
    raise MappingError(f"field column {col.label!r} is not in the canonical frame")


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_MONTH_DAY = r"^\d{2}-\d{2}$"


def _text(name: str) -> pl.Expr:
    """Column ``name`` as strings: validate keeps a column of few distinct values as a Categorical."""
    return column(name).cast(pl.String)


def _fast(name: str, data_type: str) -> pl.Expr:
    """The value in the target's type when it is already in normal form (the common case: validate
    normalised it), else null; ``_value`` settles the remaining values one distinct value at a time."""
    c = rules.clean(_text(name))
    if data_type == "date":
        ok = c.str.contains(_ISO_DATE) & c.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        return pl.when(ok).then(c)
    if data_type == "recurrent_date":
        ok = (
            c.str.contains(_MONTH_DAY)
            & (pl.lit("2000-") + c).str.to_date("%Y-%m-%d", strict=False).is_not_null()
        )
        return pl.when(ok).then(c)
    if data_type == "boolean":
        return pl.when(c.is_in(["true", "false"])).then(c)
    if data_type == "number":
        return rules.number_fast(c)
    return c


def _value(df: pl.DataFrame, src: str, data_type: str) -> pl.Expr:
    """The expression of column ``src``'s values in the target's type, settled here for the whole column
    and evaluated a chunk at a time when the plan is walked.

    Validate hands field columns trimmed and normalised, so ``_fast`` usually changes no cell: then the
    value is the column itself (one boolean pass decides; no copy). Values the fast path leaves unsettled
    (``Yes``, ``2024-03-01T10:00:00Z``, ``1,234.5``) are parsed once per distinct value and looked up.
    """
    fast = _fast(src, data_type)
    if df.height == 0:
        return fast
    # every check below is per value: a Categorical (few distinct values) is checked on those alone
    # rather than cast to a million strings
    if df.schema[src] == pl.Categorical:
        df = df.select(column(src).unique())
    same, pending = df.select(
        fast.eq_missing(_text(src)).all().alias("same"),
        (fast.is_null() & rules.clean(_text(src)).is_not_null()).any().alias("pending"),
    ).row(0)
    if same:
        return _text(src)
    if data_type == "text" or not pending:
        return fast
    cells = _text(src).filter(fast.is_null() & rules.clean(_text(src)).is_not_null())
    values = df.select(cells.str.strip_chars().unique()).to_series().to_list()
    fixed = dict(zip(values, _slow(values, data_type), strict=True))
    looked_up = (
        _text(src)
        .str.strip_chars()
        .replace_strict(list(fixed), list(fixed.values()), default=None, return_dtype=pl.String)
    )
    return pl.coalesce(fast, looked_up)


def _slow(values: list[str], data_type: str) -> list[str | None]:
    if data_type == "number":
        return [rules.normalise_number(v) for v in values]
    series = pl.Series("v", values, dtype=pl.String)
    if data_type == "boolean":
        return series.to_frame().select(rules.parse_boolean(pl.col("v"))).to_series().to_list()
    parse = {"date": rules.parse_date, "recurrent_date": rules.parse_recurrent}[data_type]
    return parse(series).to_list()  # validate's parsers: the same formats validate accepts


SEP = "\x1f"  # joins ids inside one cell; ids are hex ObjectIds, never containing it


def _to_ids(df: pl.DataFrame, col: str, mapping: dict[str, str], extra: list[str]) -> pl.Expr:
    """Names → the row's sorted, de-duplicated ids (+ ``extra``), joined by ``SEP`` into one string.

    Rows share few distinct name combinations, so each combination is resolved once in Python here and
    the expression maps the column with one vectorised lookup (per-row list operations are far slower).
    """
    if col not in df.columns:
        return pl.lit(SEP.join(extra), dtype=pl.String)
    names = pl.col(col).fill_null([]).list.join(SEP)
    combos = df.select(names.unique()).to_series().to_list()
    ids = [
        SEP.join(sorted({*(mapping[n] for n in c.split(SEP) if n in mapping), *extra}))
        if c
        else SEP.join(extra)
        for c in combos
    ]
    return names.replace_strict(combos, ids, return_dtype=pl.String)


def _check_names(frame: pl.DataFrame, resolved: ResolvedMapping) -> None:
    lists, tags = distinct_names(frame)
    lmap, tmap = dict(resolved.list_ids), dict(resolved.tag_ids)
    miss = [f"list {n!r}" for n in lists if n not in lmap] + [f"tag {t!r}" for t in tags if t not in tmap]
    miss += [f"list {n!r} (--list)" for n in resolved.extra_lists if n not in lmap]
    if miss:
        raise MappingError("the saved mapping does not cover " + ", ".join(miss[:20]) + " (resolve again)")


def plan_contacts(
    frame: pl.DataFrame,
    field_columns: Sequence[FieldColumn],
    resolved: ResolvedMapping,
    *,
    import_unconfirmed: bool = False,
    duplicates: pl.DataFrame | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> TransformResult:
    """Plan one contact per row of the canonical frame (one row per key).

    ``duplicates`` (validate's frame: ``key``, ``winner_row_id``, ``row_ids``) gives each contact all the
    row ids that collapsed into it, winner first; without it a contact carries its own row id only.
    ``chunk_rows``: contacts built at a time when the plan is iterated (memory against per-chunk cost).
    """
    fid_of = dict(resolved.field_ids)
    types = dict(resolved.field_types)
    targets = []
    for col in field_columns:
        if col.label not in fid_of:
            raise MappingError(f"field column {col.label!r} has no resolved field id (resolve again)")
        fid = fid_of[col.label]
        targets.append((fid, _column_for(col, frame.columns), types.get(fid, col.data_type), col))
    targets.sort(key=lambda t: t[0])
    _check_names(frame, resolved)

    lmap, tmap = dict(resolved.list_ids), dict(resolved.tag_ids)
    extra_ids = sorted({lmap[n] for n in resolved.extra_lists})
    where = [c for c in (SOURCE_FILE, SOURCE_LINE) if c in frame.columns]
    # The plan keeps no column of its own: its frame shares the canonical frame's columns (a select copies
    # no cell) and its values, list and tag ids are expressions computed a chunk at a time when the plan
    # is walked. A million-row plan's materialised value columns cost more than the canonical frame.
    df = frame.select(
        pl.col(ROW_ID),
        pl.col(KEY),
        pl.col(STATUS),
        *[pl.col(c) for c in where],
        *[pl.col(c) for c in (LISTS, TAGS) if c in frame.columns],
        *[column(src).alias(f"_s{i}") for i, (_, src, _, _) in enumerate(targets)],
    )
    values = [_value(df, f"_s{i}", t[2]) for i, t in enumerate(targets)]
    lists = _to_ids(df, LISTS, lmap, extra_ids)
    tags = _to_ids(df, TAGS, tmap, [])
    groups = _groups(duplicates)

    known = [s.value for s in Status]
    is_bad = (~pl.col(STATUS).is_in(known)).fill_null(True)  # only consent rejects here
    field_problems = _type_mismatches(df, targets, values, is_bad)
    brief = df.select(ROW_ID, KEY, STATUS)
    rejected = _reasons(brief.filter(is_bad))
    skip_states = [] if import_unconfirmed else list(SKIP_REASONS)
    skip = pl.col(STATUS).is_in(skip_states)
    skipped = brief.filter(~is_bad & skip)
    planned = brief.select((~is_bad & ~skip).alias("_ok")).to_series()
    rows = None if planned.all() else planned.arg_true()
    del brief, planned

    rejected_out = _issues(rejected, groups, pl.lit(RejectReason.UNKNOWN_STATUS.value), pl.col("_bad"))
    skipped_out = _issues(
        skipped,
        groups,
        pl.col(STATUS).replace_strict({k: v[0] for k, v in SKIP_REASONS.items()}),
        pl.col(STATUS).replace_strict({k: v[1] for k, v in SKIP_REASONS.items()}),
    )
    columns = [
        pl.col(KEY),
        pl.col(ROW_ID),
        pl.col(STATUS),
        lists.alias("_lists"),
        tags.alias("_tags"),
        *(v.alias(f"_v{i}") for i, v in enumerate(values)),
    ]
    return TransformResult(
        PlannedContacts(
            df, [t[0] for t in targets], groups, chunk_rows=chunk_rows, columns=columns, rows=rows
        ),
        rejected_out,
        skipped_out,
        field_problems,
    )


def _type_mismatches(
    df: pl.DataFrame,
    targets: list[tuple[str, str, str, FieldColumn]],
    values: Sequence[pl.Expr],
    is_bad: pl.Expr,
) -> pl.DataFrame:
    """One row per non-empty value that did not coerce to its field's type (rows kept by consent only),
    built for those cells alone: one boolean pass finds the fields that have any (text always coerces)."""
    failed = {
        i: rules.clean(_text(f"_s{i}")).is_not_null() & values[i].is_null() & ~is_bad
        for i, t in enumerate(targets)
        if t[2] != "text"
    }
    if not failed or df.height == 0:
        return pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    # one field at a time: evaluated together, every field's values would exist at once
    hit = [df.select(f.any()).item() for f in failed.values()]
    none = pl.lit(None, dtype=pl.String)
    parts = []
    for (i, f), h in zip(failed.items(), hit, strict=True):
        if not h:
            continue
        _, _, dt, col = targets[i]
        value = _text(f"_s{i}").str.strip_chars()
        msg = pl.concat_str(
            [
                pl.lit(f"column {col.source!r}: value '"),
                value.str.slice(0, 40),
                pl.lit(f"' is not {_TYPE_WORDS.get(dt, dt)} (target field {col.label!r} is {dt})"),
            ]
        )
        parts.append(
            df.filter(f).select(
                pl.col(ROW_ID).cast(pl.Int64),
                (pl.col(SOURCE_FILE) if SOURCE_FILE in df.columns else none).alias(SOURCE_FILE),
                (pl.col(SOURCE_LINE) if SOURCE_LINE in df.columns else none)
                .cast(pl.Int64)
                .alias(SOURCE_LINE),
                pl.col(KEY),
                pl.lit(col.source, dtype=pl.String).alias(REJECT_COLUMN),
                pl.lit(col.label, dtype=pl.String).alias(FIELD),
                pl.lit(RejectReason.TYPE_MISMATCH.value, dtype=pl.String).alias(REASON_CODE),
                msg.alias(REASON),
                value.str.slice(0, FIELD_VALUE_CHARS).alias(REJECT_VALUE),
                pl.lit(i, dtype=pl.Int32).alias("_order"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
    return pl.concat(parts).sort(ROW_ID, "_order").select(list(FIELD_PROBLEM_SCHEMA))


def _reasons(bad: pl.DataFrame) -> pl.DataFrame:
    """``_bad``: why each rejected row was rejected (an unknown status: the only reject left here)."""
    status_msg = pl.concat_str(
        [pl.lit("status "), pl.col(STATUS).fill_null("(none)"), pl.lit(" is not known")]
    )
    return bad.with_columns(status_msg.alias("_bad"))


def _groups(duplicates: pl.DataFrame | None) -> dict[str, tuple[int, ...]]:
    """key → all its row ids, winner first then the others in merge order (only keys with duplicates)."""
    if duplicates is None or duplicates.height == 0 or "row_ids" not in duplicates.columns:
        return {}
    winners = (
        duplicates.get_column("winner_row_id").to_list()
        if "winner_row_id" in duplicates.columns
        else [ids[0] for ids in duplicates.get_column("row_ids").to_list()]
    )
    out = {}
    for key, win, ids in zip(
        duplicates.get_column(KEY).to_list(), winners, duplicates.get_column("row_ids").to_list(), strict=True
    ):
        out[key] = (int(win), *(int(i) for i in ids if i != win))
    return out


def _issues(
    df: pl.DataFrame, groups: dict[str, tuple[int, ...]], code: pl.Expr, reason: pl.Expr
) -> pl.DataFrame:
    if df.height == 0:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    base = df.select(
        pl.col(ROW_ID).cast(pl.Int64), pl.col(KEY), code.alias(REASON_CODE), reason.alias(REASON)
    )
    if not groups:
        return base.select(list(ISSUE_SCHEMA))
    rows = [(rid, key, c, r) for own, key, c, r in base.iter_rows() for rid in groups.get(key, (own,))]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA, orient="row")


def _build(df: pl.DataFrame, fids: list[str], groups: dict[str, tuple[int, ...]]) -> list[PlannedContact]:
    """The one Python pass: columns to lists once, distinct id combinations to tuples once."""
    combos: dict[str, tuple[str, ...]] = {"": ()}

    def ids(joined: str) -> tuple[str, ...]:
        hit = combos.get(joined)
        if hit is None:
            hit = combos[joined] = tuple(joined.split(SEP))
        return hit

    was_enabled = gc.isenabled()
    gc.disable()  # a million new tuples would trigger repeated full collections that find no garbage
    try:
        return _build_rows(df, fids, groups, ids)
    finally:
        if was_enabled:
            gc.enable()


def _build_rows(
    df: pl.DataFrame,
    fids: list[str],
    groups: dict[str, tuple[int, ...]],
    ids: Callable[[str], tuple[str, ...]],
) -> list[PlannedContact]:
    active = (df.get_column(STATUS) == Status.SUBSCRIBED.value).to_list()
    values = (
        zip(*(df.get_column(f"_v{i}").to_list() for i in range(len(fids))), strict=True)
        if fids
        else iter(lambda: (), None)
    )
    out = []
    for key, rid, lists, tags, act, row in zip(
        df.get_column(KEY).to_list(),
        df.get_column(ROW_ID).to_list(),
        df.get_column("_lists").to_list(),
        df.get_column("_tags").to_list(),
        active,
        values,
        strict=False,
    ):
        fields = (
            tuple(zip(fids, row, strict=True))
            if None not in row
            else tuple([(f, v) for f, v in zip(fids, row, strict=True) if v is not None])
        )
        out.append(
            PlannedContact(
                key=key,
                row_ids=groups.get(key) or (rid,),
                fields=fields,
                lists=ids(lists),
                tags=ids(tags),
                status=BME_ACTIVE if act else BME_INACTIVE,
                secondary=None if act else BME_UNSUBSCRIBE,
            )
        )
    return out
