"""The validate stage's entry points: ``validate_frame`` (raw frame → ValidationResult) and
``validate_sources`` (paths → extract → validate_frame).

Accounting is the invariant: every row read (including extract's structural rejects) ends in exactly one
of ``valid`` / ``rejected`` / ``merged_duplicate``, and ``rows_read == valid + rejected + merged_duplicate``
is asserted on every run (a violation is a bug and raises).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from etl.mapping.presets import Preset, load_preset
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
)
from etl.validate.canonical import is_bookkeeping, plan_columns, source_columns
from etl.validate.dedup import collapse
from etl.validate.rows import REJECT_COLUMN, REJECT_VALUE, canonical_rows
from etl.validate.schemas import contract_rejects

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
_KEY_UNUSABLE = ("missing_email", "invalid_email", "unknown_status", "contract_key", "contract_status")


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
      EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, then one str column per ``fields`` entry (by label).
    * ``outcomes`` — one row per row read: OUTCOME_COLUMNS; ``reject_column``/``reject_value`` say which
      source cell caused a reject (null when not tied to a cell).
    * ``fields`` — the field columns, in column order (``custom=True`` for proposed custom text fields).
    * ``duplicates`` — one row per key that had several rows: key, rows, winner_row_id, winner_file,
      winner_line, status (merged), row_ids, files, lines, statuses (lists in merge order).
    * ``rejected_raw`` — rejected rows in their original source columns (as read, untrimmed) + PROVENANCE,
      REASON_CODE, REASON and RAW (structural rejects only): what ``rejects.csv`` is written from.
    * ``consent_from_rejects`` — persons made unsubscribed/cleaned by a rejected row with the same key.
    """

    preset: Preset
    canonical: pl.DataFrame
    outcomes: pl.DataFrame
    fields: tuple[FieldColumn, ...]
    duplicates: pl.DataFrame
    counts: Counts
    files: tuple[Any, ...] = ()
    rejected_raw: pl.DataFrame = field(default_factory=pl.DataFrame)
    source_columns: tuple[str, ...] = ()
    consent_from_rejects: int = 0
    detection: Any = None  # etl.mapping.detect.Detection when the preset was detected


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
    structural = _structural(getattr(extract_result, "rejects", None))
    where = str(getattr(files[0], "path", "")) if len(files) == 1 else None
    plan = plan_columns(raw.columns, preset, where=where)
    rows = canonical_rows(raw, plan, preset, _headers_by_file(raw, files))
    labels = [f.label for f in plan.fields]
    canon_cols = [*PROVENANCE, EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, *labels]

    ok_rows = rows.filter(pl.col(REASON_CODE).is_null()).select(canon_cols)
    rows = rows.select(
        *PROVENANCE, KEY, STATUS, REASON_CODE, REASON, REJECT_COLUMN, REJECT_VALUE
    )  # frees fields
    contract = contract_rejects(ok_rows, plan.fields)
    if contract.height:
        ok_rows = ok_rows.filter(~pl.col(ROW_ID).is_in(contract.get_column(ROW_ID).implode()))
        rows = (
            rows.join(contract, on=ROW_ID, how="left", suffix="_c")
            .with_columns(
                pl.coalesce(REASON_CODE, f"{REASON_CODE}_c").alias(REASON_CODE),
                pl.coalesce(REASON, f"{REASON}_c").alias(REASON),
                pl.coalesce(REJECT_COLUMN, "column").alias(REJECT_COLUMN),
                pl.coalesce(REJECT_VALUE, "value").alias(REJECT_VALUE),
            )
            .drop(f"{REASON_CODE}_c", f"{REASON}_c", "column", "value")
        )

    bad = pl.col(REASON_CODE).is_not_null()
    suppressors = rows.filter(bad & ~pl.col(REASON_CODE).is_in(_KEY_UNUSABLE)).select(KEY, STATUS)
    merged = collapse(ok_rows, labels, suppressors)
    del ok_rows  # the canonical frame is what is kept; peak memory matters at a million rows

    losers = merged.losers.select(ROW_ID, pl.col(REASON_CODE).alias("_dc"), pl.col(REASON).alias("_dr"))
    outcomes = rows.select(
        ROW_ID, SOURCE_FILE, SOURCE_LINE, KEY, REASON_CODE, REASON, REJECT_COLUMN, REJECT_VALUE
    ).join(losers, on=ROW_ID, how="left")
    outcomes = outcomes.with_columns(
        pl.when(bad)
        .then(pl.lit(Outcome.REJECTED.value))
        .when(pl.col("_dc").is_not_null())
        .then(pl.lit(Outcome.MERGED_DUPLICATE.value))
        .otherwise(pl.lit(Outcome.VALID.value))
        .alias(OUTCOME),
        pl.coalesce(REASON_CODE, "_dc").alias(REASON_CODE),
        pl.coalesce(REASON, "_dr").alias(REASON),
    ).select(OUTCOME_COLUMNS)
    struct_out = structural.select(
        ROW_ID,
        SOURCE_FILE,
        SOURCE_LINE,
        pl.lit(Outcome.REJECTED.value).alias(OUTCOME),
        REASON_CODE,
        REASON,
        pl.lit(None, dtype=pl.String).alias(KEY),
        pl.lit(None, dtype=pl.String).alias(REJECT_COLUMN),
        pl.col(RAW).alias(REJECT_VALUE),
    )
    if struct_out.height:
        outcomes = pl.concat([outcomes, struct_out], how="vertical").sort(ROW_ID)

    counts = _count(outcomes, raw.height + structural.height, merged.canonical.height)
    src = tuple(c for c in source_columns(raw.columns) if not is_bookkeeping(c))
    rejected = outcomes.filter(pl.col(OUTCOME) == Outcome.REJECTED.value).select(ROW_ID, REASON_CODE, REASON)
    rejected_raw = pl.concat(
        [
            raw.filter(pl.col(ROW_ID).is_in(rejected.get_column(ROW_ID).implode()))
            .select(*PROVENANCE, *src)
            .join(rejected, on=ROW_ID, how="left")
            .with_columns(pl.lit(None, dtype=pl.String).alias(RAW)),
            structural.select(*PROVENANCE, REASON_CODE, REASON, RAW),
        ],
        how="diagonal_relaxed",
    ).sort(ROW_ID)
    return ValidationResult(
        preset=preset,
        canonical=merged.canonical,
        outcomes=outcomes,
        fields=plan.fields,
        duplicates=merged.groups,
        counts=counts,
        files=files,
        rejected_raw=rejected_raw,
        source_columns=src,
        consent_from_rejects=merged.suppressed_by_rejects,
        detection=detection,
    )


def _count(outcomes: pl.DataFrame, rows_read: int, canonical_rows_n: int) -> Counts:
    by = dict(outcomes.group_by(OUTCOME).len().iter_rows())
    counts = Counts(
        rows_read=rows_read,
        valid=by.get(Outcome.VALID.value, 0),
        rejected=by.get(Outcome.REJECTED.value, 0),
        merged_duplicate=by.get(Outcome.MERGED_DUPLICATE.value, 0),
    )
    total = counts.valid + counts.rejected + counts.merged_duplicate
    if total != rows_read or outcomes.height != rows_read or counts.valid != canonical_rows_n:
        raise RuntimeError(
            f"validate lost track of rows (a bug): read {rows_read}, outcomes {outcomes.height}, "
            f"valid+rejected+merged {total}, canonical {canonical_rows_n}"
        )
    if outcomes.get_column(ROW_ID).n_unique() != outcomes.height:
        raise RuntimeError("validate recorded two outcomes for one row (a bug)")
    return counts


def choose_preset(extract_result: Any) -> tuple[Preset, Any]:
    """The single detection hook: score the export's headers and file names, else fall back to generic."""
    from etl.mapping.detect import detect_platform

    files = tuple(getattr(extract_result, "files", ()) or ())
    headers = {str(f.path): list(f.header) for f in files if getattr(f, "header", None)}
    if not headers:
        headers = {"export": source_columns(extract_result.frame.columns)}
    found = detect_platform(headers)
    return load_preset(found.platform), found


def validate_sources(
    paths: Sequence[str | Path], *, preset: Preset | None, progress: Callable[..., Any] | None = None
) -> ValidationResult:
    """Read ``paths`` (extract) and validate them; with ``preset=None`` the platform is detected."""
    from etl.extract import read_sources

    extracted = read_sources([str(p) for p in paths], progress=progress)
    detection = None
    if preset is None:
        preset, detection = choose_preset(extracted)
    return validate_frame(extracted, preset, detection=detection)
