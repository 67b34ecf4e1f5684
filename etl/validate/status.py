"""A row's consent status, from every signal the row carries: the most restrictive one wins.

Signals, in the order they are named when they tie: the preset's status flags, its status column, the
consent columns ``plan_columns`` recognised (``etl/presets/consent.py``), the file name. Each gives a status
or nothing; the row's status is the most restrictive given (``consent.RANK``: cleaned > unsubscribed >
no_consent > pending > subscribed), and the preset's ``default`` only when no signal says anything. This is
the "consent wins" rule of duplicate rows applied inside one row, so an opt-out in any column is never
outvoted by an "active" elsewhere.

Besides STATUS, the expressions name which signal decided (``BY``) and the cell that did (``VALUE``), for the
report's "status decided by" table, and the raw status word and whether it is unknown (for the
``unknown_status`` reject).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from etl.frames import aligned
from etl.model import SOURCE_FILE, STATUS, Status
from etl.names import col as column
from etl.presets.consent import (
    DATE_LIKE,
    INVISIBLE,
    NO_SIGNAL,
    RANK,
    SEPARATORS,
    SUPPRESSION_WORDS,
    UNREADABLE,
    VOCABULARY,
    ConsentShape,
    classify_header,
)
from etl.presets.preset import FlagRule, Preset
from etl.validate import rules
from etl.validate.canonical import ColumnPlan

BY = "__bme_status_by"
VALUE = "__bme_status_val"
WORD = "__bme_status_word"
UNKNOWN = "__bme_status_unknown"
UNDECIDED = "__bme_status_undecided"  # the row has a consent cell nobody can read (see ``undecided``)
UNDECIDED_STATUS = "undecided"  # what the report says such a row's status is until a person settles it
FILLED = "(filled)"
DEFAULT = "default"
FILE_NAME = "file name"
CONSENT_SCHEMA = pl.Schema(
    {"column": pl.String, "kind": pl.String, "value": pl.String, "reading": pl.String, "n": pl.Int64}
)
SOURCES_SCHEMA = pl.Schema({"by": pl.String, "value": pl.String, STATUS: pl.String, "n": pl.Int64})


@dataclass(frozen=True)
class _Signal:
    by: str  # who speaks: 'column "X"' or "file name"
    rank: pl.Expr  # the RANK of the status it gives (a working column), or null when it says nothing
    value: pl.Expr  # the cell that spoke, for the report


def lookup(expr: pl.Expr, mapping: Mapping[str, str]) -> pl.Expr:
    """``expr`` through ``mapping``; anything else (and null) → null."""
    if not mapping:
        return pl.lit(None, dtype=pl.String)
    return expr.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=pl.String)


def normalised(expr: pl.Expr) -> pl.Expr:
    """``consent.normalise_value`` as an expression: lower case, runs of space/_/- as one space."""
    v = (
        expr.str.replace_all(INVISIBLE, "")
        .str.to_lowercase()
        .str.replace_all(SEPARATORS, " ")
        .str.strip_chars(" ")
    )
    return pl.when(v.str.len_bytes() > 0).then(v)  # a cell of separators only says nothing


def fires(col: str, rule: FlagRule, headers_by_file: Mapping[str, Collection[str]] | None) -> pl.Expr:
    """Vectorised ``FlagRule.fires``; a file whose header lacks the column never fires (even when absent)."""
    v = rules.clean(column(col)).str.to_lowercase()
    if not rule.values:
        hit = v.is_not_null()
    elif rule.match == "contains":
        hit = pl.any_horizontal(*[v.str.contains(x, literal=True) for x in rule.values])
    else:
        hit = v.is_in(list(rule.values))
    hit = hit.fill_null(False)
    fired = ~hit if rule.absent else hit
    return fired & _in_files_having(col, headers_by_file)


def _in_files_having(col: str, headers_by_file: Mapping[str, Collection[str]] | None) -> pl.Expr:
    if headers_by_file is None:
        return pl.lit(True)
    return pl.col(SOURCE_FILE).is_in([f for f, cols in headers_by_file.items() if col in cols])


def reading(col: str, shape: ConsentShape, headers_by_file: Mapping[str, Collection[str]] | None) -> pl.Expr:
    """Each cell of a consent column read as a status, ``NO_SIGNAL`` or ``UNREADABLE`` (null when empty):
    the vectorised ``ConsentShape.read``."""
    return _reading(col, normalised(rules.clean(column(col))), shape, headers_by_file)


def _reading(
    col: str, v: pl.Expr, shape: ConsentShape, headers_by_file: Mapping[str, Collection[str]] | None
) -> pl.Expr:
    """``reading`` of column ``col`` from its normalised cell ``v`` (computed once by the caller)."""
    mapped = lookup(v, shape.value_table())
    if shape.kind == "event":
        other = pl.lit(shape.status)
    elif shape.kind == "negative":
        other = pl.when(v.str.contains(DATE_LIKE)).then(pl.lit(shape.status)).otherwise(pl.lit(UNREADABLE))
    elif shape.kind in ("value", "address"):
        other = pl.lit(NO_SIGNAL)
    else:
        other = pl.lit(UNREADABLE)
    out = pl.when(mapped.is_not_null()).then(mapped).when(v.is_not_null()).then(other)
    return pl.when(_in_files_having(col, headers_by_file)).then(out)


def _own_words(
    col: str, word: pl.Expr, headers_by_file: Mapping[str, Collection[str]] | None, *, by_name: bool
) -> pl.Expr:
    """An opt-out that a column a preset claims states in its own words, whatever values the preset
    expected there: a suppression word ("unsubscribed", "bounced") in a flag or in a field named like a
    consent; and, for a flag (``by_name``), a "no" in a column named like a consent. Only opt-outs: a cell
    this reading cannot place says nothing (the preset reads it). A field's booleans and dates keep the
    meaning its preset documents (Sendy's "GDPR: No" is a sign-up form, not an opt-out). ``word`` is the
    column's normalised cell."""
    suppressing = {w: s for w, s in VOCABULARY.items() if RANK[s] >= RANK[Status.UNSUBSCRIBED.value]}
    said: pl.Expr = pl.when(_in_files_having(col, headers_by_file)).then(lookup(word, suppressing))
    shape = classify_header(col) if by_name else None
    if shape is not None:
        read = _reading(col, word, shape, headers_by_file)
        said = pl.coalesce(said, pl.when(read.is_in([s for s in RANK if RANK[s] > 0])).then(read))
    return said


def consent_reading_column(j: int) -> str:
    """The working column ``with_status`` leaves with the reading of ``plan.consent[j]``'s cells."""
    return f"{_STAGE}read{j}"


def consent_cell_column(j: int) -> str:
    """The working column ``with_status`` leaves with ``plan.consent[j]``'s cell as the report shows it."""
    return f"{_STAGE}cell{j}"


_STAGE = "__bme_st_"  # prefix of with_status's working columns (canonical_rows drops every __bme_ column)


def with_status(
    frame: pl.DataFrame,
    plan: ColumnPlan,
    preset: Preset,
    files: Mapping[str, str],
    headers_by_file: Mapping[str, Collection[str]] | None,
) -> pl.DataFrame:
    """``frame`` with STATUS, BY, VALUE, WORD and UNKNOWN for every row (see the module doc), and each
    consent column's reading and cell (``consent_reading_column`` / ``consent_cell_column``), which
    ``consent_values`` counts instead of reading the column a second time.

    Built in stages, each stage's columns computed once and referred to by name: written as one nested
    expression, every branch of BY and VALUE re-evaluated every signal and the highest rank (itself every
    signal), so each cell's regexes ran dozens of times — 95% of validate's time on a million rows. A
    column's signals depend on its cell alone (and on whether the row's file has the column, applied
    after), so they are worked out once per distinct cell (``_by_distinct``).
    """
    headers_by_file = _every_file_has(frame, plan, headers_by_file)
    per_column: dict[str, dict[str, pl.Expr]] = {}  # source column → working column → expr of its cell
    masked: list[tuple[str, str]] = []  # (working column, source column): null where the file lacks it
    normal: dict[tuple[str, bool], pl.Expr] = {}

    def add(col: str, expr: pl.Expr, *, mask: bool = False, name: str | None = None) -> pl.Expr:
        name = name or f"{_STAGE}{sum(map(len, per_column.values()))}"
        per_column.setdefault(col, {})[name] = expr
        if mask:
            masked.append((name, col))
        return pl.col(name)

    def norm(col: str, *, clean: bool = True) -> pl.Expr:
        """The column's normalised cell, as a working column (what VALUE shows)."""
        if (col, clean) not in normal:
            normal[(col, clean)] = add(col, normalised(rules.clean(column(col)) if clean else column(col)))
        return normal[(col, clean)]

    def rank(status: pl.Expr) -> pl.Expr:  # every status a signal gives is one of RANK's
        return status.replace_strict(list(RANK), list(RANK.values()), default=None, return_dtype=pl.Int8)

    signals: list[_Signal] = []
    fired_flags: list[int] = []  # signals whose status, when given, makes a row's status readable
    fired_consent: list[int] = []  # signals that do so unless they say "subscribed"
    for col, rule in plan.flags:
        word_in_flag = norm(col)
        cell = pl.lit(FILLED) if not rule.values else word_in_flag.fill_null("")
        fire = pl.when(fires(col, rule, None)).then(pl.lit(RANK[rule.status.value], dtype=pl.Int8))
        fired_flags.append(len(signals))
        signals.append(_Signal(f'column "{col}"', add(col, fire, mask=True), cell))
        own = _own_words(col, normalised(rules.clean(column(col))), None, by_name=True)
        fired_flags.append(len(signals))
        signals.append(_Signal(f'column "{col}"', add(col, rank(own), mask=True), word_in_flag))
    claimed = [fc.source for fc in plan.fields if not fc.custom] + list(plan.ignored)
    for col in claimed:
        if classify_header(col) is not None:
            own = _own_words(col, normalised(rules.clean(column(col))), None, by_name=False)
            fired_flags.append(len(signals))
            signals.append(_Signal(f'column "{col}"', add(col, rank(own), mask=True), norm(col)))
    word = pl.lit(None, dtype=pl.String)
    unknown: pl.Expr = pl.lit(False)
    if plan.status is not None:
        word = column(plan.status)
        own_values = {k: v.value for k, v in preset.status.values.items()}
        looked = pl.coalesce(
            lookup(word.str.to_lowercase(), own_values), lookup(normalised(word), VOCABULARY)
        )
        is_unknown = word.is_not_null() & looked.is_null()
        if preset.status.unknown is not None:
            looked = pl.when(is_unknown).then(pl.lit(preset.status.unknown.value)).otherwise(looked)
        else:
            unknown = add(plan.status, is_unknown)
        said = add(plan.status, rank(looked))
        signals.append(_Signal(f'column "{plan.status}"', said, norm(plan.status, clean=False)))
    for j, (col, shape) in enumerate(plan.consent):
        v = normalised(rules.clean(column(col)))
        read = _reading(col, v, shape, None)
        add(col, read, mask=True, name=consent_reading_column(j))
        add(col, pl.lit(FILLED, dtype=pl.String) if shape.kind == "event" else v, name=consent_cell_column(j))
        said = add(col, rank(pl.when(read.is_in(list(RANK))).then(read)), mask=True)
        fired_consent.append(len(signals))
        signals.append(_Signal(f'column "{col}"', said, pl.col(consent_cell_column(j))))
    by_file = add(SOURCE_FILE, rank(lookup(pl.col(SOURCE_FILE), files))) if files else pl.lit(None, pl.Int8)
    signals.append(
        _Signal(FILE_NAME, by_file, pl.col(SOURCE_FILE) if files else pl.lit(None, dtype=pl.String))
    )

    out = frame.with_columns(
        series for col, outputs in per_column.items() for series in _by_distinct(frame, col, outputs)
    )
    if headers_by_file is not None and masked:
        out = out.with_columns(
            pl.when(_in_files_having(col, headers_by_file)).then(pl.col(name)).alias(name)
            for name, col in masked
        )
    top_name = f"{_STAGE}top"
    out = out.with_columns(pl.max_horizontal(s.rank for s in signals).alias(top_name))

    fired: pl.Expr = pl.lit(False)
    for k in fired_flags:
        fired = fired | signals[k].rank.is_not_null()
    for k in fired_consent:  # a consent column saying "subscribed" (rank 0) does not make the word readable
        said = signals[k].rank
        fired = fired | (said.is_not_null() & (said != RANK[Status.SUBSCRIBED.value]))
    top = pl.col(top_name)
    back = top.replace_strict(list(RANK.values()), list(RANK), default=None, return_dtype=pl.String)
    status = pl.when(top.is_null()).then(pl.lit(preset.status.default.value)).otherwise(back)
    by: Any = pl.when(top.is_null()).then(pl.lit(DEFAULT))
    value: Any = pl.when(top.is_null()).then(pl.lit(None, dtype=pl.String))
    for s in signals:
        by = by.when(s.rank == top).then(pl.lit(s.by))
        value = value.when(s.rank == top).then(s.value)
    out = out.with_columns(
        status.alias(STATUS),
        by.alias(BY),
        value.alias(VALUE),
        word.alias(WORD),
        (unknown & ~fired).alias(UNKNOWN),
    )
    keep = {consent_reading_column(j) for j in range(len(plan.consent))}
    keep |= {consent_cell_column(j) for j in range(len(plan.consent))}
    return out.drop([c for c in out.columns if c.startswith(_STAGE) and c not in keep])


def _every_file_has(
    frame: pl.DataFrame, plan: ColumnPlan, headers_by_file: Mapping[str, Collection[str]] | None
) -> Mapping[str, Collection[str]] | None:
    """None (every file has every column) when each file of ``frame``'s rows has every column a status
    signal reads — one file, the usual case: no per-row file look-up (a hash of every row's file name,
    repeated per signal) is then needed. Otherwise ``headers_by_file`` as given."""
    if headers_by_file is None:
        return None
    used = {c for c, _ in plan.flags} | {c for c, _ in plan.consent}
    used |= {fc.source for fc in plan.fields if not fc.custom} | set(plan.ignored)
    present = frame.get_column(SOURCE_FILE).unique().to_list()
    if all(f in headers_by_file and used <= set(headers_by_file[f]) for f in present):
        return None
    return headers_by_file


_DISTINCT_SAMPLE = 10_000  # cells looked at to guess whether a column repeats its values
_DISTINCT_RATIO = 4  # a column is worked out per distinct cell when it has ≤ 1/4 as many distinct cells
_KEY = "__bme_st_key"


def _by_distinct(frame: pl.DataFrame, col: str, outputs: Mapping[str, pl.Expr]) -> list[pl.Series]:
    """``outputs`` (expressions of column ``col``'s cell alone) for every row of ``frame``, worked out once
    per distinct cell when the column repeats its values (a status word, a flag, a mostly empty date
    column) and joined back: regex replacements, lower-casing and look-ups over every cell cost more than
    all the rest of validate. A column of mostly distinct values is worked out cell by cell (a table as
    large as the column would cost more)."""
    cells = frame.get_column(col)
    sample = cells.head(_DISTINCT_SAMPLE)
    if sample.n_unique() * _DISTINCT_RATIO <= max(sample.len(), _DISTINCT_RATIO):
        distinct = cells.unique()
        if distinct.len() * _DISTINCT_RATIO <= max(cells.len(), _DISTINCT_RATIO):
            table = distinct.to_frame().select(pl.nth(0).alias(_KEY), **outputs)
            got = (
                cells.rename(_KEY)
                .to_frame()
                .join(table, on=_KEY, how="left", nulls_equal=True, maintain_order="left")
            )
            # in the cells' chunk layout: a frame whose columns' layouts differ is rechunked (every string
            # copied) by polars' filters
            return [aligned(got.get_column(name), cells) for name in outputs]
    got = frame.select(column(col).alias(_KEY), **outputs)  # (the cell keeps a literal output full height)
    return [got.get_column(name) for name in outputs]


def consent_values(
    raw: pl.DataFrame, plan: ColumnPlan, headers_by_file: Mapping[str, Collection[str]] | None
) -> pl.DataFrame:
    """How many rows held each value of each consent column, and how it was read (CONSENT_SCHEMA);
    and, for a watched column, its cells that are suppression words (read ``UNREADABLE``: a person must say
    whether that column is consent). Small: consent columns have few distinct values, and an event
    column's cells (timestamps) are counted as one ``(filled)`` value."""
    parts = []
    have = set(raw.columns)
    for j, (col, shape) in enumerate(plan.consent):
        cell = pl.lit(FILLED) if shape.kind == "event" else normalised(rules.clean(column(col)))
        read = reading(col, shape, headers_by_file)
        if consent_reading_column(j) in have:  # read once already, by with_status
            cell, read = pl.col(consent_cell_column(j)), pl.col(consent_reading_column(j))
        parts.append(
            raw.select(cell.alias("value"), read.alias("reading"))
            .filter(pl.col("reading").is_not_null())
            .group_by("value", "reading")
            .agg(pl.len().cast(pl.Int64).alias("n"))
            .select(pl.lit(col).alias("column"), pl.lit(shape.kind).alias("kind"), "value", "reading", "n")
        )
    if plan.watch:
        variants = _variants()
        at = {c: i for i, c in enumerate(raw.columns)}
        # one multi-column expression, not one per column (a file can have 10,000 watched columns)
        hits = raw.select(pl.nth([at[c] for c in plan.watch]).is_in(variants).any()).row(0)
        for col, hit in zip(plan.watch, hits, strict=True):
            if not hit:
                continue
            parts.append(
                raw.select(column(col).alias("value"))
                .filter(pl.col("value").is_in(variants))
                .group_by("value")
                .agg(pl.len().cast(pl.Int64).alias("n"))
                .select(
                    pl.lit(col).alias("column"),
                    pl.lit("value").alias("kind"),
                    normalised(pl.col("value")).alias("value"),
                    pl.lit(UNREADABLE).alias("reading"),
                    "n",
                )
            )
    if not parts:
        return pl.DataFrame(schema=CONSENT_SCHEMA)
    return pl.concat(parts).cast(dict(CONSENT_SCHEMA))  # type: ignore[arg-type]


def _variants() -> list[str]:
    """The spellings of suppression words a watched cell is compared with, without lower-casing every
    cell of every column (a pass over all the text): as written, Capitalised, Title Case, UPPER, and with
    ``_``/``-`` for spaces."""
    out: set[str] = set()
    for w in SUPPRESSION_WORDS:
        for form in (w, w.capitalize(), w.title(), w.upper()):
            out.update({form, form.replace(" ", "_"), form.replace(" ", "-")})
    return sorted(out)


@dataclass(frozen=True)
class Undecided:
    """Which rows are *undecided* and why, as expressions over the frame ``with_status`` left: a row is
    undecided when a cell of it cannot be read in a column that may carry consent (reading
    ``UNREADABLE``, or a suppression word in a watched column). Whatever its other columns say, its
    status is not known until a person settles that column: the report must not count it as the status
    the other signals (or the preset's default) gave it. ``by``/``value`` name the first such cell."""

    flag: pl.Expr
    by: pl.Expr
    value: pl.Expr


def undecided(plan: ColumnPlan, found: pl.DataFrame) -> Undecided | None:
    """``Undecided`` for one batch, given its ``consent_values`` (``found``), or None when no row of it
    is: only the columns that hold an unreadable cell in this batch are looked at row by row, so a
    batch without one costs nothing."""
    unread = set(found.filter(pl.col("reading") == UNREADABLE).get_column("column").to_list())
    cells: list[tuple[str, pl.Expr, pl.Expr]] = []  # (column, row's cell unreadable?, cell as reported)
    for j, (col, _) in enumerate(plan.consent):
        if col in unread:
            hit = pl.col(consent_reading_column(j)) == UNREADABLE
            cells.append((col, hit.fill_null(False), pl.col(consent_cell_column(j))))
    if unread:
        variants = _variants()
        for col in plan.watch:
            if col in unread:
                cells.append((col, column(col).is_in(variants).fill_null(False), normalised(column(col))))
    if not cells:
        return None
    by: Any = None
    value: Any = None
    for col, hit, cell in cells:
        by = (pl.when(hit) if by is None else by.when(hit)).then(pl.lit(f'column "{col}"'))
        value = (pl.when(hit) if value is None else value.when(hit)).then(cell)
    return Undecided(pl.any_horizontal(hit for _, hit, _ in cells), by, value)


def status_sources(first: pl.DataFrame, keep: pl.Series) -> pl.DataFrame:
    """Rows per (deciding signal, its value, status), over the rows kept (SOURCES_SCHEMA); an undecided
    row (``UNDECIDED``, when ``first`` has it) counts as ``UNDECIDED_STATUS``, by the column that left it
    so, not as the status a weaker signal or the default gave it."""
    by, value, status = pl.col(BY), pl.col(VALUE), pl.col(STATUS)
    if UNDECIDED in first.columns:
        status = pl.when(pl.col(UNDECIDED)).then(pl.lit(UNDECIDED_STATUS)).otherwise(status).alias(STATUS)
    return (
        first.select(by, value, status)  # (filtering every column of ``first`` first copied them all)
        .filter(keep)
        .group_by(pl.col(BY).alias("by"), pl.col(VALUE).alias("value"), STATUS)
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .cast(dict(SOURCES_SCHEMA))  # type: ignore[arg-type]
    )
