"""The validate stage's entry points: ``validate_frame`` (raw frame → ValidationResult) and
``validate_sources`` (paths → extract → validate_frame).

Accounting is the invariant: every row read (including extract's structural rejects) ends in exactly one
of ``valid`` / ``rejected`` / ``merged_duplicate``, and ``rows_read == valid + rejected + merged_duplicate``
is asserted on every run (a violation is a bug and raises).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from etl.model import (
    EMAIL_RAW,
    EVENT_TIME,
    KEY,
    LISTS,
    OUTCOME,
    PROVENANCE,
    REASON,
    REASON_CODE,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TAGS,
    FieldColumn,
    Outcome,
    Status,
)
from etl.names import col as column
from etl.names import positions
from etl.presets.preset import ConsentChoices, Preset, load_preset, norm_header
from etl.reasons import RejectReason
from etl.validate.canonical import bookkeeping_columns, plan_columns, source_columns
from etl.validate.consent_findings import ConsentFindings
from etl.validate.dedup import collapse_owned
from etl.validate.rows import (
    FIELD_PROBLEM_SCHEMA,
    FIELD_VALUE_CHARS,
    REJECT_COLUMN,
    REJECT_VALUE,
    canonical_rows,
)
from etl.validate.schemas import contract_rejects

if TYPE_CHECKING:
    from etl.extract.options import ReadOptions

RAW = "raw_line"  # in ``rejected_raw``: the unparsed text of a structural reject (extract's ``raw``)
OUTCOME_COLUMNS = (
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    OUTCOME,
    REASON_CODE,
    REASON,
    KEY,
    REJECT_COLUMN,
    REJECT_VALUE,
)
OUTCOME_DTYPE = pl.Enum([o.value for o in Outcome])  # one byte per row, compares equal to the strings
PROBLEM_SCHEMA = pl.Schema(
    {
        ROW_ID: pl.Int64,
        SOURCE_FILE: pl.String,
        SOURCE_LINE: pl.Int64,
        KEY: pl.String,
        STATUS: pl.String,
        REASON_CODE: pl.String,
        REASON: pl.String,
        REJECT_COLUMN: pl.String,
        REJECT_VALUE: pl.String,
    }
)
# rows validated at once (~one 16 MiB extract block): time barely depends on it, memory does
BATCH_ROWS = 50_000
# Reasons after which a row has no usable key or status: its status never suppresses its person's other rows.
_KEY_UNUSABLE = tuple(
    r.value
    for r in (
        RejectReason.MISSING_EMAIL,
        RejectReason.INVALID_EMAIL,
        RejectReason.UNKNOWN_STATUS,
        RejectReason.CONTRACT_KEY,
        RejectReason.CONTRACT_STATUS,
    )
)


FIELD_SAMPLE_ROWS = 1000  # valid rows whose field values the report samples (ValidationResult.field_head)
# A field column whose first batch of at least REPEAT_MIN_ROWS rows holds at most one distinct value in
# REPEAT_RATIO rows is kept as a Categorical (see ``_Batches._repeats``)
REPEAT_MIN_ROWS = 10_000
REPEAT_RATIO = 20


@dataclass(frozen=True)
class Counts:
    rows_read: int
    valid: int
    rejected: int
    merged_duplicate: int


@dataclass(frozen=True)
class ValidationResult:
    """What validate hands to the report, and to mapping/load (stable interface).

    * ``canonical`` — valid rows only, one per KEY (winner's provenance), in ``row_id`` order: PROVENANCE,
      EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, then one str column per ``fields`` entry (by label;
      a column of few distinct values in a large export is a Categorical of the same strings: cast it for
      string functions); with ``field_values=False`` the field columns hold only True/null (filled or not).
    * ``not_valid`` — the outcome rows of every row that is not valid (rejected and merged), in
      ``row_id`` order: OUTCOME_COLUMNS. Small; what reports and the ledger read.
    * ``outcomes`` (property) — one row per row read: OUTCOME_COLUMNS, built on first use from
      ``canonical`` and ``not_valid`` (a million-row frame nobody needs on the dry-run path);
      ``reject_column``/``reject_value`` say which source cell caused a reject (null when not tied to a cell).
    * ``fields`` — the field columns, in column order (``custom=True`` for proposed custom text fields).
    * ``duplicates`` — one row per key that had several rows: key, rows, winner_row_id, winner_file,
      winner_line, status (merged), row_ids, files, lines, statuses (lists in merge order).
    * ``rejected_raw`` — rejected rows in their original source columns (as read, untrimmed) + PROVENANCE,
      REASON_CODE, REASON and RAW (structural rejects only): what ``rejects.csv`` is written from.
    * ``consent_from_rejects`` — persons made unsubscribed/cleaned by a rejected row with the same key.
    * ``field_problems`` — one row per cell left out of a row that is not rejected because it cannot be
      read (``FIELD_PROBLEM_SCHEMA``: provenance, key, source column, field label, reason code and
      message, the value cut to ``rows.FIELD_VALUE_CHARS``), in row order. Not outcomes: those rows are
      valid (or merged) and arrive without that field. ``field_problem_raw``: those rows in their original
      source columns + PROVENANCE (one row per row), what ``rejects.csv``'s field rows are written from.
    * ``field_head`` — the first valid rows' field columns with their values (also with
      ``field_values=False``): the report's sample values per column.
    """

    preset: Preset
    canonical: pl.DataFrame
    not_valid: pl.DataFrame
    fields: tuple[FieldColumn, ...]
    duplicates: pl.DataFrame
    counts: Counts
    files: tuple[Any, ...] = ()
    rejected_raw: pl.DataFrame = field(default_factory=pl.DataFrame)
    source_columns: tuple[str, ...] = ()
    consent_from_rejects: int = 0
    detection: Any = None  # etl.presets.detect.Detection when the preset was detected
    field_values: bool = True  # False: field columns of ``canonical`` hold True/null (filled or not) only
    consent: ConsentFindings = field(default_factory=ConsentFindings)
    field_problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA))
    field_problem_raw: pl.DataFrame = field(default_factory=pl.DataFrame)
    field_head: pl.DataFrame = field(default_factory=pl.DataFrame)

    @cached_property
    def outcomes(self) -> pl.DataFrame:
        """One outcome row per row read, in ``row_id`` order (see the class docstring)."""
        valid = _outcome_rows(self.canonical.select(ROW_ID, SOURCE_FILE, SOURCE_LINE, KEY), Outcome.VALID)
        return _merge_by_row_id(valid, self.not_valid) if self.not_valid.height else valid

    @property
    def rejections(self) -> pl.DataFrame:
        """The rejected rows' outcome rows (OUTCOME_COLUMNS), in ``row_id`` order."""
        return self.not_valid.filter(pl.col(OUTCOME) == Outcome.REJECTED.value)


def _structural(rejects: Any) -> pl.DataFrame:
    """Extract's structural rejects as a frame (accepts a DataFrame or records with the same attributes)."""
    cols = {
        ROW_ID: pl.Int64,
        SOURCE_FILE: pl.String,
        SOURCE_LINE: pl.Int64,
        REASON_CODE: pl.String,
        REASON: pl.String,
        "raw": pl.String,
    }
    if rejects is None:
        frame = pl.DataFrame(schema=cols)
    elif isinstance(rejects, pl.DataFrame):
        frame = rejects
    else:
        frame = pl.DataFrame([{c: getattr(r, c, None) for c in cols} for r in rejects], schema=cols)
    for c in cols:
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(c))
    return frame.select([pl.col(c).cast(t) for c, t in cols.items()]).rename({"raw": RAW})


def _headers_by_file(raw: pl.DataFrame, files: Sequence[Any]) -> dict[str, set[str]]:
    """Header of each source file, as frame column names; files extract did not describe get all columns."""
    known = {str(getattr(f, "path", "")): set(getattr(f, "header", ()) or ()) for f in files}
    cols = set(source_columns(raw.columns))
    out = {}
    for sf in raw.get_column(SOURCE_FILE).unique().to_list():
        header = known.get(sf)
        out[sf] = (cols & header) if header else cols
    return out


def validate_frame(extract_result: Any, preset: Preset, *, detection: Any = None) -> ValidationResult:
    """Validate one extract result (``frame``, ``rejects``, ``files``) with ``preset``.

    Raises ``InputError`` when no email column exists. Never raises for bad *values*: those become rejects.
    """
    raw: pl.DataFrame = extract_result.frame
    if not raw.get_column(ROW_ID).is_sorted():
        raw = raw.sort(ROW_ID)  # extract hands rows in read order; hand-built frames may not
    files = tuple(getattr(extract_result, "files", ()) or ())
    where = str(getattr(files[0], "path", "")) if len(files) == 1 else None
    batches = _Batches(source_columns(raw.columns), preset, _headers_by_file(raw, files), where=where)
    batches.add(raw)
    batches.add_structural(getattr(extract_result, "rejects", None))
    return batches.finish(files, detection, lambda ids: raw.filter(pl.col(ROW_ID).is_in(ids.implode())))


class _Batches:
    """Validate raw rows batch by batch, keeping only what the result needs.

    Memory policy: a batch's raw columns are dropped as soon as it is validated; what stays is the valid
    rows' canonical columns and, for the (few) rejected rows, their outcome and original cells. Outcomes
    of valid and merged rows are derived from the canonical columns at the end, not kept twice. With
    ``field_values=False`` (a dry run's report needs only whether a field is filled) each field column is
    kept as a True/null marker instead of its text. Every per-row rule is row-local, so batches give the
    same result as one frame.
    """

    def __init__(
        self,
        columns: Sequence[str],
        preset: Preset,
        headers: Mapping[str, Collection[str]],
        *,
        where: str | None = None,
        field_values: bool = True,
    ) -> None:
        self.preset = preset
        self.same = _one_spelling(columns, headers)
        self.columns = [c for c in columns if c not in self.same]
        self.plan = plan_columns([*PROVENANCE, *self.columns], preset, where=where)
        self.headers = {f: {self.same.get(c, c) for c in cols} for f, cols in headers.items()}
        ours = bookkeeping_columns(self.columns)
        self.src = tuple(c for c in self.columns if c not in ours)
        self.labels = [f.label for f in self.plan.fields]
        self.field_values = field_values
        self.valid: list[pl.DataFrame] = []
        self.problems: list[pl.DataFrame] = []
        self.rejected: list[pl.DataFrame] = []
        self.structural: list[pl.DataFrame] = []
        self.consent: list[pl.DataFrame] = []
        self.sources: list[pl.DataFrame] = []
        self.undecided: list[pl.DataFrame] = []  # keys of rows whose consent nobody can read yet
        self.field_problems: list[pl.DataFrame] = []
        self.field_raw: list[pl.DataFrame] = []
        self.date_orders: dict[str, str] = {}  # spreadsheet dates: day/month order proven per column
        self.rows = 0
        self.head: pl.DataFrame | None = None  # the first valid rows' field values (the report's samples)
        self.repeats: list[str] | None = None  # field columns kept as Categorical: decided on the first batch

    def add(self, raw: pl.DataFrame) -> None:
        """Validate one batch of raw rows (PROVENANCE + any of the source columns), in row_id order."""
        raw = self._unified(raw)
        self.rows += raw.height
        found = canonical_rows(raw, self.plan, self.preset, self.headers, self.date_orders)
        self.consent.append(found.consent_values)
        self.sources.append(found.status_sources)
        if found.undecided.len():
            self.undecided.append(_compact(found.undecided.to_frame(KEY)))
        full = found.rows.select(
            *PROVENANCE, EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, *(column(c) for c in self.labels)
        )
        passed, problems = _with_contract(full, ~found.rejected, found.problems, self.plan.fields)
        all_passed = passed.all()
        if not all_passed:
            problems = _compact(problems)
            self.rejected.append(_compact(_rejected_raw(raw.filter(~passed), problems, self.src)))
            self.problems.append(problems)
        if found.field_problems.height:
            self._add_field_problems(raw, found.field_problems, full.get_column(ROW_ID).filter(passed))
        del raw, found
        if self.head is None:  # kept before values become markers: the report shows a few of each field
            at = positions(full)
            kept = full if all_passed else full.filter(passed)
            self.head = kept.head(FIELD_SAMPLE_ROWS).select(pl.nth([at[c] for c in self.labels]))
        if not self.field_values:
            at = positions(full)
            full = full.with_columns(
                pl.when(pl.nth(at[c]).is_not_null()).then(True).alias(c) for c in self.labels
            )
        else:
            full = self._repeats(full)
        self.valid.append(full if all_passed else full.filter(passed))

    def _repeats(self, full: pl.DataFrame) -> pl.DataFrame:
        """``full`` with its field columns of few distinct values (a country, a time zone, an opt-in IP)
        as Categoricals: a string cell costs 16 bytes a row before its text, a category 4, and a
        million-row export's canonical frame is most of a migration's memory. Decided on the first batch
        and then applied to every batch (one dtype per column across batches); a batch smaller than
        ``REPEAT_MIN_ROWS`` (a small export) decides nothing, so small runs keep plain strings. The values
        read the same: consumers that need string functions cast (``etl.mapping.transform``)."""
        if self.repeats is None and full.height < REPEAT_MIN_ROWS:
            self.repeats = []
        if self.repeats is None:
            strings = [c for c in self.labels if full.schema[c] == pl.String]
            at = positions(full)
            distinct = full.select(pl.nth([at[c] for c in strings]).n_unique()).row(0) if strings else ()
            self.repeats = [
                c for c, n in zip(strings, distinct, strict=True) if n * REPEAT_RATIO <= full.height
            ]
        if not self.repeats:
            return full
        at = positions(full)
        return full.with_columns(pl.nth(at[c]).cast(pl.Categorical) for c in self.repeats)

    def _add_field_problems(self, raw: pl.DataFrame, cells: pl.DataFrame, passed: pl.Series) -> None:
        """Keep the field problems of rows that passed (the contract may still reject one) and those
        rows' original cells (for rejects.csv), copied out of the batch's buffers."""
        cells = cells.filter(pl.col(ROW_ID).is_in(passed.implode()))
        if not cells.height:
            return
        ids = cells.get_column(ROW_ID).unique().implode()
        at = positions(raw)
        keep = [at[c] for c in (*PROVENANCE, *self.src)]  # pl.nth: see _rejected_raw
        self.field_raw.append(_compact(raw.filter(pl.col(ROW_ID).is_in(ids)).select(pl.nth(keep))))
        self.field_problems.append(_compact(cells))

    def add_structural(self, rejects: Any) -> None:
        """Extract's structural rejects (rows that never became cells): a frame or records."""
        frame = _structural(rejects)
        if frame.height:
            self.structural.append(frame)

    def _unified(self, raw: pl.DataFrame) -> pl.DataFrame:
        """``raw`` with one column per ``_one_spelling`` group and every known column present."""
        for other, kept in self.same.items():
            if other in raw.columns:
                merged = pl.coalesce(column(kept), column(other)) if kept in raw.columns else column(other)
                raw = raw.with_columns(merged.alias(kept)).drop(other)
        have = set(raw.columns)
        missing = [c for c in self.columns if c not in have]
        if missing:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
        return raw

    def finish(
        self,
        files: tuple[Any, ...],
        detection: Any,
        fetch: Callable[[pl.Series], pl.DataFrame] | None = None,
    ) -> ValidationResult:
        """Collapse duplicates across every batch and account for every row. ``fetch`` (row ids → those
        raw rows, in row order) gives the original cells of rows rejected only now (held persons), for
        rejects.csv: the batches kept cells of the rows they rejected, not of every row."""
        structural = pl.concat(self.structural) if self.structural else _structural(None)
        problems = _concat(self.problems) if self.problems else pl.DataFrame(schema=PROBLEM_SCHEMA)
        rows_read = self.rows + structural.height
        suppressors = problems.filter(~pl.col(REASON_CODE).is_in(_KEY_UNUSABLE)).select(KEY, STATUS)
        box = [_concat(self.valid)]
        merged = collapse_owned(box, self.labels, suppressors)  # frees each column once filtered
        canonical, held = _hold_unclear(merged.canonical, problems)
        if held.height and fetch is not None:
            cells = self._unified(fetch(held.get_column(ROW_ID)))
            self.rejected.append(_rejected_raw(cells, held, self.src))
        rejected_raw = _with_structural(self.rejected, structural, self.src)
        not_valid = _not_valid(merged.losers, _concat([problems, held]), structural)
        counts = _count(canonical, not_valid, rows_read)
        return ValidationResult(
            preset=self.preset,
            canonical=canonical,
            not_valid=not_valid,
            fields=self.plan.fields,
            duplicates=merged.groups,
            counts=counts,
            files=files,
            rejected_raw=rejected_raw,
            source_columns=self.src,
            consent_from_rejects=merged.suppressed_by_rejects,
            detection=detection,
            field_values=self.field_values,
            field_head=self.head if self.head is not None else pl.DataFrame(),
            consent=ConsentFindings.of(
                self.plan, self.consent, self.sources, _undecided(canonical, self.undecided)
            ),
            field_problems=(
                _concat(self.field_problems)
                if self.field_problems
                else pl.DataFrame(schema=FIELD_PROBLEM_SCHEMA)
            ),
            field_problem_raw=(
                _concat(self.field_raw, "diagonal") if self.field_raw else _empty_raw(self.src)
            ),
        )


def _undecided(canonical: pl.DataFrame, keys: list[pl.DataFrame]) -> dict[str, int]:
    """Valid contacts (persons) whose consent is undecided, by the status they would otherwise have: a
    person is undecided when any of their rows kept has a consent cell nobody can read (``keys``, from
    the batches). Counted, not filtered: a million-row frame is not copied."""
    if not keys:
        return {}
    wanted = _concat(keys).get_column(KEY).unique().implode()
    counts = canonical.group_by(STATUS).agg(pl.col(KEY).is_in(wanted).sum().alias("n"))
    return {s: int(n) for s, n in counts.iter_rows() if n}


def _hold_unclear(canonical: pl.DataFrame, problems: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Persons with a row whose status word cannot be read are held (``consent_unclear``, not written),
    unless their merged status is already not subscribed: their other rows' "subscribed" must not decide
    for them (the unreadable row may be an unsubscribe spelt oddly). Returns the canonical rows left and
    the held rows as problems (PROBLEM_SCHEMA)."""
    empty = pl.DataFrame(schema=PROBLEM_SCHEMA)
    unclear = problems.filter(
        (pl.col(REASON_CODE) == RejectReason.UNKNOWN_STATUS.value) & pl.col(KEY).is_not_null()
    )
    if not unclear.height:
        return canonical, empty
    first = unclear.group_by(KEY, maintain_order=True).agg(
        pl.col(SOURCE_FILE).first().alias("_f"),
        pl.col(SOURCE_LINE).first().alias("_l"),
        pl.col(REJECT_COLUMN).first(),
        pl.col(REJECT_VALUE).first(),
    )
    hit = canonical.select(ROW_ID, SOURCE_FILE, SOURCE_LINE, KEY, STATUS).join(
        first, on=KEY, how="inner", maintain_order="left"
    )
    hit = hit.filter(pl.col(STATUS) == Status.SUBSCRIBED.value)
    if not hit.height:
        return canonical, empty
    held = hit.select(
        ROW_ID,
        SOURCE_FILE,
        SOURCE_LINE,
        KEY,
        STATUS,
        pl.lit(RejectReason.CONSENT_UNCLEAR.value).alias(REASON_CODE),
        pl.concat_str(
            [
                pl.lit("held, not written: another row of this address ("),
                pl.col("_f"),
                pl.lit(":"),
                pl.col("_l").cast(pl.String),
                pl.lit(') has a status that cannot be read: column "'),
                pl.col(REJECT_COLUMN),
                pl.lit('" = "'),
                pl.col(REJECT_VALUE),
                pl.lit('"'),
            ]
        ).alias(REASON),
        REJECT_COLUMN,
        REJECT_VALUE,
    ).cast(dict(PROBLEM_SCHEMA))  # type: ignore[arg-type]
    return canonical.filter(~pl.col(ROW_ID).is_in(held.get_column(ROW_ID).implode())), held


def _one_spelling(columns: Sequence[str], headers: Mapping[str, Collection[str]]) -> dict[str, str]:
    """Columns that are one column spelt differently in different files (``EMAIL`` in the contacts export,
    ``email`` in a suppression file): each other spelling → the first one, so a rule that finds one finds
    the rows of every file. Spellings that share a file are different columns and stay apart."""
    by_norm: dict[str, list[str]] = {}
    ours = bookkeeping_columns(columns)
    for c in columns:
        if c not in ours and norm_header(c):
            by_norm.setdefault(norm_header(c), []).append(c)
    out: dict[str, str] = {}
    for names in by_norm.values():
        if len(names) > 1 and not any(len(set(names) & set(cols)) > 1 for cols in headers.values()):
            out.update(dict.fromkeys(names[1:], names[0]))
    return out


def _concat(frames: list[pl.DataFrame], how: Literal["vertical", "diagonal"] = "vertical") -> pl.DataFrame:
    """Batches as one frame (emptying ``frames``), without copying: columns keep one chunk per batch.
    ``diagonal`` for raw blocks of files with different columns."""
    out = frames[0] if len(frames) == 1 else pl.concat(frames, how=how, rechunk=False)
    frames.clear()
    return out


def _outcome_rows(frame: pl.DataFrame, outcome: Outcome, **columns: pl.Expr) -> pl.DataFrame:
    """``frame``'s rows as OUTCOME_COLUMNS rows with ``outcome``; ``columns`` gives the columns ``frame``
    does not hold under their own name (any other missing column is null)."""
    none = pl.lit(None, dtype=pl.String)
    own = set(frame.columns)

    def pick(name: str) -> pl.Expr:
        if name in columns:
            return columns[name].alias(name)
        return pl.col(name) if name in own else none.alias(name)

    return frame.select(
        ROW_ID,
        SOURCE_FILE,
        SOURCE_LINE,
        pl.lit(outcome.value, dtype=OUTCOME_DTYPE).alias(OUTCOME),
        *(pick(c) for c in (REASON_CODE, REASON, KEY, REJECT_COLUMN, REJECT_VALUE)),
    )


def _not_valid(losers: pl.DataFrame, problems: pl.DataFrame, structural: pl.DataFrame) -> pl.DataFrame:
    """Outcome rows of the rows that are not valid: merged, rejected, structurally rejected."""
    none = pl.lit(None, dtype=pl.String)
    parts = [
        _outcome_rows(losers, Outcome.MERGED_DUPLICATE),
        _outcome_rows(problems, Outcome.REJECTED),
        _outcome_rows(
            structural,
            Outcome.REJECTED,
            **{KEY: none, REJECT_VALUE: pl.col(RAW).str.slice(0, FIELD_VALUE_CHARS)},
        ),
    ]
    return pl.concat(parts).sort(ROW_ID)


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its string cells copied into buffers of their own.

    A filtered polars string column still holds the *whole* buffer it was filtered from: keeping a few
    rejected rows of each batch would otherwise keep every batch's text alive (the file, in RAM).
    """
    return frame.with_columns(
        pl.concat_str([pl.nth(i), pl.lit("")]).alias(name)
        for i, (name, dtype) in enumerate(frame.schema.items())
        if dtype == pl.String
    )


def _with_contract(
    full: pl.DataFrame, passed: pl.Series, problems: pl.DataFrame, fields: Sequence[FieldColumn]
) -> tuple[pl.Series, pl.DataFrame]:
    """The pandera contract check of the rows that ``passed`` the rules: the mask of rows that pass both,
    and ``problems`` with the contract's rejects added (row order kept).

    The contract runs on every row of ``full`` (no filtered copy); failures of rows the rules already
    rejected are ignored.
    """
    contract = contract_rejects(full, fields, only=passed)
    contract = contract.filter(pl.col(ROW_ID).is_in(full.get_column(ROW_ID).filter(passed).implode()))
    if not contract.height:
        return passed, problems
    failed = full.get_column(ROW_ID).is_in(contract.get_column(ROW_ID).implode())
    more = (
        full.filter(failed)
        .select(ROW_ID, SOURCE_FILE, SOURCE_LINE, KEY, STATUS)
        .join(contract, on=ROW_ID, how="left", maintain_order="left")
        .rename({"column": REJECT_COLUMN, "value": REJECT_VALUE})
        .select(problems.columns)
    )
    return passed & ~failed, pl.concat([problems, more]).sort(ROW_ID)


def _rejected_raw(raw: pl.DataFrame, problems: pl.DataFrame, src: tuple[str, ...]) -> pl.DataFrame:
    """Rejected rows of one batch (``raw``, the batch filtered to them: the rows of ``problems``, in the
    same order) in their original source columns, with reason and provenance."""
    if raw.height != problems.height:
        raise RuntimeError("rejected rows and their problems differ (a bug in validate)")
    # pl.nth, never pl.col(name): a source header may be "*" or "^…$", which pl.col reads as a pattern
    at = positions(raw)
    keep = [at[c] for c in (*PROVENANCE, *src)]
    return raw.select(pl.nth(keep)).with_columns(
        problems.get_column(REASON_CODE),
        problems.get_column(REASON),
        pl.lit(None, dtype=pl.String).alias(RAW),
    )


def _with_structural(
    parts: list[pl.DataFrame], structural: pl.DataFrame, src: tuple[str, ...]
) -> pl.DataFrame:
    """``ValidationResult.rejected_raw``: every batch's rejected rows plus the structural rejects."""
    frames = [*parts, structural.select(*PROVENANCE, REASON_CODE, REASON, RAW)]
    out = pl.concat(frames, how="diagonal_relaxed").sort(ROW_ID)
    parts.clear()
    have = set(out.columns)
    missing = [c for c in src if c not in have]  # no rejected row had cells: the columns still exist
    if missing:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    # pl.nth, never pl.col(name): a source header may be "*" or "^…$", which pl.col reads as a pattern
    order = [*PROVENANCE, *src, REASON_CODE, REASON, RAW]
    at = positions(out)
    return out.select(pl.nth([at[c] for c in order]))


def _merge_by_row_id(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """Two frames with the same columns as one in ROW_ID order (a linear merge when both are sorted)."""
    if a.get_column(ROW_ID).is_sorted() and b.get_column(ROW_ID).is_sorted():
        return a.merge_sorted(b, key=ROW_ID)
    return pl.concat([a, b], how="vertical").sort(ROW_ID)


def _count(canonical: pl.DataFrame, not_valid: pl.DataFrame, rows_read: int) -> Counts:
    by = dict(not_valid.group_by(OUTCOME).len().iter_rows())
    counts = Counts(
        rows_read=rows_read,
        valid=canonical.height,
        rejected=by.get(Outcome.REJECTED.value, 0),
        merged_duplicate=by.get(Outcome.MERGED_DUPLICATE.value, 0),
    )
    total = counts.valid + counts.rejected + counts.merged_duplicate
    if total != rows_read or not_valid.height != counts.rejected + counts.merged_duplicate:
        raise RuntimeError(
            f"validate lost track of rows (a bug): read {rows_read}, valid {counts.valid}, "
            f"not valid {not_valid.height}, valid+rejected+merged {total}"
        )
    ids = not_valid.get_column(ROW_ID)
    if ids.n_unique() != ids.len() or canonical.get_column(ROW_ID).is_in(ids.implode()).any():
        raise RuntimeError("validate recorded two outcomes for one row (a bug)")
    return counts


def choose_preset(extract_result: Any) -> tuple[Preset, Any]:
    """The single detection hook: score the export's headers and file names, else fall back to generic."""
    files = tuple(getattr(extract_result, "files", ()) or ())
    return _detect(files, source_columns(extract_result.frame.columns))


def _detect(files: Sequence[Any], columns: Sequence[str]) -> tuple[Preset, Any]:
    from etl.presets.detect import detect_platform

    headers = {str(f.path): list(f.header) for f in files if getattr(f, "header", None)}
    found = detect_platform(headers or {"export": list(columns)})
    return load_preset(found.platform), found


def validate_sources(
    paths: Sequence[str | Path],
    *,
    preset: Preset | None,
    progress: Callable[..., Any] | None = None,
    field_values: bool = True,
    batch_rows: int = BATCH_ROWS,
    consent: ConsentChoices | None = None,
    options: ReadOptions | None = None,
) -> ValidationResult:
    """Read ``paths`` and validate them as they stream (extract batch by batch, never the whole raw
    frame in memory); with ``preset=None`` the platform is detected from the headers. ``options``:
    ``--encoding`` / ``--delimiter`` for every text file.

    ``field_values=False`` keeps only whether each field is filled (see ``_Batches``): enough for the
    dry-run report, not for a load. ``batch_rows`` trades memory for per-batch overhead.
    """
    from etl.extract.prefetch import prefetch
    from etl.extract.sources import SourceStream, stream_sources

    def consume(
        stream: SourceStream, counter: Callable[[int], None] | None
    ) -> tuple[_Batches, tuple[Any, ...], Any]:
        files, columns = stream.files, stream.columns
        chosen, detection = (preset, None) if preset is not None else _detect(files, columns)
        if consent:  # what a person said about consent columns applies to a detected preset too
            chosen = consent.apply(chosen)
        where = files[0].path if len(files) == 1 else None
        headers = {f.path: set(f.header) for f in files}
        batches = _Batches(columns, chosen, headers, where=where, field_values=field_values)
        pending: list[pl.DataFrame] = []
        size = 0
        for batch in prefetch(stream.batches(counter)):  # the next block is read while this one is checked
            batches.add_structural(batch.rejects)
            pending.append(batch.frame)
            size += batch.frame.height
            if size >= batch_rows:
                batches.add(_concat(pending, "diagonal"))
                size = 0
        if pending or not batches.rows:  # (an empty export still gets its plan and an empty result)
            batches.add(_concat(pending, "diagonal") if pending else _empty_raw(columns))
        return batches, stream.files, detection

    def again(ids: pl.Series) -> pl.DataFrame:
        """The rows ``ids`` as read: one more streamed pass, made only when some person was held."""
        wanted = ids.implode()

        def pick(stream: SourceStream, counter: Callable[[int], None] | None) -> pl.DataFrame:
            parts = [b.frame.filter(pl.col(ROW_ID).is_in(wanted)) for b in stream.batches(counter)]
            return _concat([p for p in parts if p.height] or [_empty_raw(stream.columns)], "diagonal")

        return stream_sources([str(p) for p in paths], pick, None, options)

    batches, files, detection = stream_sources([str(p) for p in paths], consume, progress, options)
    return batches.finish(files, detection, again)


def _empty_raw(columns: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            ROW_ID: pl.Int64,
            SOURCE_FILE: pl.String,
            SOURCE_LINE: pl.Int64,
            **dict.fromkeys(columns, pl.String),
        }
    )
