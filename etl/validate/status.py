"""A row's consent status, from every signal the row carries: the most restrictive one wins.

Signals, in the order they are named when they tie: the preset's status flags, its status column, the
consent columns ``plan_columns`` recognised (``etl/mapping/consent.py``), the file name. Each gives a status
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

from etl.mapping.consent import (
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
from etl.mapping.presets import FlagRule, Preset
from etl.model import SOURCE_FILE, STATUS, Status
from etl.names import col as column
from etl.validate import rules
from etl.validate.canonical import ColumnPlan

BY = "__bme_status_by"
VALUE = "__bme_status_val"
WORD = "__bme_status_word"
UNKNOWN = "__bme_status_unknown"
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
    status: pl.Expr  # a Status value, or null when this signal says nothing
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
    elif shape.kind == "value":
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
    signal), so each cell's regexes ran dozens of times — 95% of validate's time on a million rows.
    """
    headers_by_file = _every_file_has(frame, plan, headers_by_file)
    names: dict[tuple[str, bool], str] = {}  # normalised cells, one column per (source column, cleaned first)

    def norm(col: str, *, clean: bool = True) -> pl.Expr:
        if (col, clean) not in names:
            names[(col, clean)] = f"{_STAGE}n{len(names)}"
        return pl.col(names[(col, clean)])

    signals: list[_Signal] = []  # each signal's status becomes a column of its own (stage 2)
    fired_flags: list[int] = []  # signals whose status, when given, makes a row's status readable
    fired_consent: list[int] = []  # signals that do so unless they say "subscribed"
    for col, rule in plan.flags:
        word_in_flag = norm(col)
        cell = pl.lit(FILLED) if not rule.values else word_in_flag.fill_null("")
        cond = fires(col, rule, headers_by_file)
        fired_flags.append(len(signals))
        signals.append(_Signal(f'column "{col}"', pl.when(cond).then(pl.lit(rule.status.value)), cell))
        fired_flags.append(len(signals))
        signals.append(
            _Signal(
                f'column "{col}"', _own_words(col, word_in_flag, headers_by_file, by_name=True), word_in_flag
            )
        )
    claimed = [fc.source for fc in plan.fields if not fc.custom] + list(plan.ignored)
    for col in claimed:
        if classify_header(col) is not None:
            fired_flags.append(len(signals))
            said = _own_words(col, norm(col), headers_by_file, by_name=False)
            signals.append(_Signal(f'column "{col}"', said, norm(col)))
    word = pl.lit(None, dtype=pl.String)
    unknown: pl.Expr = pl.lit(False)
    unknown_name = f"{_STAGE}unknown"
    if plan.status is not None:
        word = column(plan.status)
        own = {k: v.value for k, v in preset.status.values.items()}
        looked = pl.coalesce(
            lookup(word.str.to_lowercase(), own), lookup(norm(plan.status, clean=False), VOCABULARY)
        )
        is_unknown = word.is_not_null() & looked.is_null()
        if preset.status.unknown is not None:
            looked = pl.when(is_unknown).then(pl.lit(preset.status.unknown.value)).otherwise(looked)
        else:
            unknown = pl.col(unknown_name)
        signals.append(_Signal(f'column "{plan.status}"', looked, norm(plan.status, clean=False)))
    readings: dict[str, pl.Expr] = {}
    for j, (col, shape) in enumerate(plan.consent):
        readings[consent_reading_column(j)] = _reading(col, norm(col), shape, headers_by_file)
        readings[consent_cell_column(j)] = (
            pl.lit(FILLED, dtype=pl.String) if shape.kind == "event" else norm(col)
        )
    for j, (col, _shape) in enumerate(plan.consent):
        r = pl.col(consent_reading_column(j))
        fired_consent.append(len(signals))
        signals.append(
            _Signal(f'column "{col}"', pl.when(r.is_in(list(RANK))).then(r), pl.col(consent_cell_column(j)))
        )
    signals.append(_Signal(FILE_NAME, lookup(pl.col(SOURCE_FILE), files), pl.lit(None, dtype=pl.String)))

    rank_names = [f"{_STAGE}r{k}" for k in range(len(signals))]
    top_name = f"{_STAGE}top"
    out = frame.with_columns(
        _normalised_cells(frame.get_column(col), clean=clean).alias(name)
        for (col, clean), name in names.items()
    )
    out = out.with_columns(**readings) if readings else out
    # each signal's rank (every status a signal gives is one of RANK's: a rank is null iff the status is)
    stage2 = {
        n: s.status.replace_strict(list(RANK), list(RANK.values()), default=None, return_dtype=pl.Int8)
        for n, s in zip(rank_names, signals, strict=True)
    }
    if plan.status is not None and preset.status.unknown is None:
        stage2[unknown_name] = is_unknown
    out = out.with_columns(**stage2)
    out = out.with_columns(pl.max_horizontal(rank_names).alias(top_name))

    fired: pl.Expr = pl.lit(False)
    for k in fired_flags:
        fired = fired | pl.col(rank_names[k]).is_not_null()
    for k in fired_consent:  # a consent column saying "subscribed" (rank 0) does not make the word readable
        said = pl.col(rank_names[k])
        fired = fired | (said.is_not_null() & (said != RANK[Status.SUBSCRIBED.value]))
    top = pl.col(top_name)
    back = top.replace_strict(list(RANK.values()), list(RANK), default=None, return_dtype=pl.String)
    status = pl.when(top.is_null()).then(pl.lit(preset.status.default.value)).otherwise(back)
    by: Any = pl.when(top.is_null()).then(pl.lit(DEFAULT))
    value: Any = pl.when(top.is_null()).then(pl.lit(None, dtype=pl.String))
    for s, name in zip(signals, rank_names, strict=True):
        by = by.when(pl.col(name) == top).then(pl.lit(s.by))
        value = value.when(pl.col(name) == top).then(s.value)
    out = out.with_columns(
        status.alias(STATUS),
        by.alias(BY),
        value.alias(VALUE),
        word.alias(WORD),
        (unknown & ~fired).alias(UNKNOWN),
    )
    keep = set(readings)
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


def _normalised_cells(cells: pl.Series, *, clean: bool) -> pl.Series:
    """``normalised`` (after ``rules.clean`` when ``clean``) of every cell of ``cells``, worked out once per
    distinct value when the column repeats its values (a status word, a flag, a mostly empty date column):
    two regex replacements and a lower-casing over every cell cost more than all the rest of the status.
    A column of mostly distinct values is worked out cell by cell (a look-up table as large as the column
    would cost more)."""
    v = pl.col("v")
    expr = normalised(rules.clean(v) if clean else v)
    filled = cells.drop_nulls()
    if not filled.len():
        return pl.Series(values=[None] * cells.len(), dtype=pl.String)
    sample = filled.head(_DISTINCT_SAMPLE)
    if sample.n_unique() * 4 <= sample.len() or sample.len() < _DISTINCT_SAMPLE:
        distinct = filled.unique().rename("v")
        if distinct.len() * 4 <= cells.len():
            table = distinct.to_frame().select(v, expr.alias("n"))
            got = cells.replace_strict(table.get_column("v"), table.get_column("n"), default=None)
            return got.cast(pl.String)
    return cells.rename("v").to_frame().select(expr).to_series()


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


def status_sources(first: pl.DataFrame, keep: pl.Series) -> pl.DataFrame:
    """Rows per (deciding signal, its value, status), over the rows kept (SOURCES_SCHEMA)."""
    return (
        first.filter(keep)
        .group_by(pl.col(BY).alias("by"), pl.col(VALUE).alias("value"), STATUS)
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .cast(dict(SOURCES_SCHEMA))  # type: ignore[arg-type]
    )
