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
from etl.validate.dedup import collapse_owned
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
    return _validate([extract_result], preset, detection)


def _validate(box: list[Any], preset: Preset, detection: Any) -> ValidationResult:
    """``validate_frame`` on the extract result ``box`` holds; it empties ``box``.

    Memory policy (a million rows of a wide export is ~0.7 GB of strings): no full-frame copy other than
    the canonical frame itself. Canonical columns share the raw cells they were not changed from; the raw
    frame is dropped as soon as the rejected rows' original cells are taken from it, so a caller that keeps
    no reference of its own (``validate_sources``) frees the raw columns validate does not use.
    """
    extract_result = box.pop()
    raw: pl.DataFrame = extract_result.frame
    if not raw.get_column(ROW_ID).is_sorted():
        raw = raw.sort(ROW_ID)  # extract hands rows in read order; hand-built frames may not
    files = tuple(getattr(extract_result, "files", ()) or ())
    structural = _structural(getattr(extract_result, "rejects", None))
    del extract_result
    where = str(getattr(files[0], "path", "")) if len(files) == 1 else None
    plan = plan_columns(raw.columns, preset, where=where)
    rows = canonical_rows(raw, plan, preset, _headers_by_file(raw, files))
    labels = [f.label for f in plan.fields]
    full = rows.select(*PROVENANCE, EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, *labels)
    rows = rows.select(*PROVENANCE, KEY, STATUS, REASON_CODE, REASON, REJECT_COLUMN, REJECT_VALUE)
    rows, passed = _with_contract(rows, full, plan.fields)

    rows_read = raw.height + structural.height
    src = tuple(c for c in source_columns(raw.columns) if not is_bookkeeping(c))
    rejected_raw = _rejected_raw(raw, rows.filter(~passed), src, structural)
    del raw

    bad = pl.col(REASON_CODE).is_not_null()
    suppressors = rows.filter(bad & ~pl.col(REASON_CODE).is_in(_KEY_UNUSABLE)).select(KEY, STATUS)
    box = [full]
    del full  # collapse_owned frees each column once filtered into the canonical frame
    merged = collapse_owned(box, labels, suppressors, valid=passed)

    losers = merged.losers
    ids, codes, reasons = (losers.get_column(c) for c in (ROW_ID, REASON_CODE, REASON))
    # A lookup on the (few) merged rows, not a join: a join would copy every column of a million rows.
    # One chunk first: replace_strict builds its lookup table once per chunk (extract reads ~100 chunks).
    rid = rows.get_column(ROW_ID).rechunk()
    dup_code = pl.lit(rid.replace_strict(ids, codes, default=None, return_dtype=pl.String))
    dup_reason = pl.lit(rid.replace_strict(ids, reasons, default=None, return_dtype=pl.String))
    outcomes = rows.select(
        ROW_ID,
        SOURCE_FILE,
        SOURCE_LINE,
        pl.when(bad)
        .then(pl.lit(Outcome.REJECTED.value))
        .when(dup_code.is_not_null())
        .then(pl.lit(Outcome.MERGED_DUPLICATE.value))
        .otherwise(pl.lit(Outcome.VALID.value))
        .alias(OUTCOME),
        pl.coalesce(REASON_CODE, dup_code).alias(REASON_CODE),
        pl.coalesce(REASON, dup_reason).alias(REASON),
        KEY,
        REJECT_COLUMN,
        REJECT_VALUE,
    )
    del rows
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
        outcomes = _merge_by_row_id(outcomes, struct_out)

    counts = _count(outcomes, rows_read, merged.canonical.height)
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


def _with_contract(
    rows: pl.DataFrame, full: pl.DataFrame, fields: Sequence[FieldColumn]
) -> tuple[pl.DataFrame, pl.Series]:
    """The pandera contract check, folded into ``rows``' reject columns; also the mask of passing rows.

    The contract runs on every row of ``full`` (no filtered copy); failures of rows the rules already
    rejected are ignored.
    """
    passed = rows.get_column(REASON_CODE).is_null()
    contract = contract_rejects(full, fields)
    contract = contract.filter(pl.col(ROW_ID).is_in(full.get_column(ROW_ID).filter(passed).implode()))
    if not contract.height:
        return rows, passed
    passed = passed & ~full.get_column(ROW_ID).is_in(contract.get_column(ROW_ID).implode())
    rows = (
        rows.join(contract, on=ROW_ID, how="left", suffix="_c", maintain_order="left")
        .with_columns(
            pl.coalesce(REASON_CODE, f"{REASON_CODE}_c").alias(REASON_CODE),
            pl.coalesce(REASON, f"{REASON}_c").alias(REASON),
            pl.coalesce(REJECT_COLUMN, "column").alias(REJECT_COLUMN),
            pl.coalesce(REJECT_VALUE, "value").alias(REJECT_VALUE),
        )
        .drop(f"{REASON_CODE}_c", f"{REASON}_c", "column", "value")
    )
    return rows, passed


def _rejected_raw(
    raw: pl.DataFrame, rejected: pl.DataFrame, src: tuple[str, ...], structural: pl.DataFrame
) -> pl.DataFrame:
    """Rejected rows in their original source columns (see ``ValidationResult.rejected_raw``)."""
    reasons = rejected.select(ROW_ID, REASON_CODE, REASON)
    # pl.nth, never pl.col(name): a source header may be "*" or "^…$", which pl.col reads as a pattern
    keep = [raw.columns.index(c) for c in (*PROVENANCE, *src)]
    return pl.concat(
        [
            raw.filter(pl.col(ROW_ID).is_in(reasons.get_column(ROW_ID).implode()))
            .select(pl.nth(keep))
            .join(reasons, on=ROW_ID, how="left", maintain_order="left")
            .with_columns(pl.lit(None, dtype=pl.String).alias(RAW)),
            structural.select(*PROVENANCE, REASON_CODE, REASON, RAW),
        ],
        how="diagonal_relaxed",
    ).sort(ROW_ID)


def _merge_by_row_id(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """Two frames with the same columns as one in ROW_ID order (a linear merge when both are sorted)."""
    if a.get_column(ROW_ID).is_sorted() and b.get_column(ROW_ID).is_sorted():
        return a.merge_sorted(b, key=ROW_ID)
    return pl.concat([a, b], how="vertical").sort(ROW_ID)


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
    box = [extracted]
    del extracted  # _validate owns the raw frame from here and frees it as soon as it can
    return _validate(box, preset, detection)
