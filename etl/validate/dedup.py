"""Rows that collapse to one key become one person. The policy (also in docs/validation.md):

* **Order.** Rows of a group are ordered by ``event_time`` (a row without one counts as oldest), then by
  read order (``row_id``). The *winner* is the last row: the latest change, else the last row read.
* **Fields.** Each field takes the value of the latest row that has one: the winner's value, or — when
  the winner's cell is empty — the newest non-empty value of an older row. An empty cell never erases data.
* **Consent wins.** If the winner is unsubscribed or cleaned, its status stands. Otherwise, if any row of
  the group is suppressed, the person is suppressed: ``cleaned`` when any row is cleaned (a bounce or
  complaint is a fact about the address), else ``unsubscribed``. Suppression is never undone by a later
  "subscribed" row: re-subscribing someone must be a deliberate act in the target, not a migration guess.
  A row rejected by the contract with a valid address and status still suppresses (the row itself stays
  rejected); a row with an unreadable field is not rejected at all (the field is left out), so it takes
  part like any other.
* **Tags and lists** are the union over the group, in first-seen order.
* Every other row of the group gets the outcome ``merged_duplicate``, with a reason naming the winner's
  file and line.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from etl.frames import aligned
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
    Status,
)
from etl.names import col as column
from etl.names import positions
from etl.reasons import RejectReason

_SUPPRESSED = [Status.UNSUBSCRIBED.value, Status.CLEANED.value]


@dataclass(frozen=True)
class Collapsed:
    """``canonical``: one row per key. ``losers``: (ROW_ID, SOURCE_FILE, SOURCE_LINE, KEY, REASON_CODE,
    REASON) of merged rows.
    ``groups``: one row per key that had duplicates (see ``group_columns``)."""

    canonical: pl.DataFrame
    losers: pl.DataFrame
    groups: pl.DataFrame
    suppressed_by_rejects: int = 0  # persons whose status a rejected row's suppression changed


def _merged_status(winner: pl.Expr, any_cleaned: pl.Expr, any_unsub: pl.Expr) -> pl.Expr:
    return (
        pl.when(winner.is_in(_SUPPRESSED))
        .then(winner)
        .when(any_cleaned)
        .then(pl.lit(Status.CLEANED.value))
        .when(any_unsub)
        .then(pl.lit(Status.UNSUBSCRIBED.value))
        .otherwise(winner)
    )


def collapse(
    rows: pl.DataFrame,
    fields: list[str],
    suppressors: pl.DataFrame | None = None,
    *,
    valid: pl.Series | None = None,
) -> Collapsed:
    """Collapse ``rows`` (valid canonical rows in ``row_id`` order) to one row per KEY by the policy above.

    ``suppressors`` (KEY, STATUS) are statuses of rejected rows that still carry a valid key; a suppressed
    one there suppresses the person too. Only the (few) rows of duplicate groups and suppressed keys are
    rebuilt; every other row passes through untouched, in order. ``valid`` (a mask over ``rows``) limits
    the collapse to those rows and drops the others: it spares the caller a filtered copy of the frame.
    """
    return collapse_owned([rows], fields, suppressors, valid=valid)


def collapse_owned(
    box: list[pl.DataFrame],
    fields: list[str],
    suppressors: pl.DataFrame | None = None,
    *,
    valid: pl.Series | None = None,
) -> Collapsed:
    """``collapse`` of the frame ``box`` holds; it empties ``box``. A caller that keeps no other reference
    to the frame has each of its columns freed as soon as that column is filtered (peak memory)."""
    rows = box.pop()
    if not rows.get_column(ROW_ID).is_sorted():
        order = rows.get_column(ROW_ID).arg_sort()
        rows = rows[order]
        valid = None if valid is None else valid.gather(order)
    # A 64-bit hash finds candidate groups faster than comparing strings; a collision only puts a few
    # rows through the exact grouping below, where they stay alone (one-row "groups" are dropped).
    hashed = pl.col(KEY).hash(seed=0)
    if valid is None:
        multi_mask = _duplicated(rows.select(hashed).to_series())
    else:
        multi_mask = valid & _duplicated(rows.select(pl.when(pl.lit(valid)).then(hashed)).to_series())
    multi = rows.filter(multi_mask).sort(KEY, EVENT_TIME, ROW_ID, nulls_last=False)
    grouped = multi.group_by(KEY, maintain_order=True).agg(
        pl.len().alias("_n"),
        pl.col(ROW_ID).last(),
        pl.col(SOURCE_FILE).last(),
        pl.col(SOURCE_LINE).last(),
        pl.col(EMAIL_RAW).last(),
        _merged_status(
            pl.col(STATUS).last(),
            (pl.col(STATUS) == Status.CLEANED.value).any(),
            (pl.col(STATUS) == Status.UNSUBSCRIBED.value).any(),
        ).alias(STATUS),
        pl.col(TAGS).list.explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True),
        pl.col(LISTS).list.explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True),
        pl.col(EVENT_TIME).max(),
        *[column(f).drop_nulls().last() for f in fields],
        pl.col(ROW_ID).alias("row_ids"),
        pl.col(SOURCE_FILE).alias("files"),
        pl.col(SOURCE_LINE).alias("lines"),
        pl.col(STATUS).alias("statuses"),
    )
    # Each group's row lands on its winner's place (the winner keeps its row id): keep the winners, drop the
    # others, then patch the winners' changed cells. No concat + sort of the whole frame: at a million rows
    # every full copy of a wide frame costs ~0.5 GB and a second.
    keep = ~multi_mask | rows.get_column(ROW_ID).is_in(grouped.get_column(ROW_ID).implode())
    if valid is not None:
        keep = keep & valid
    columns = rows.columns
    multi = multi.select(ROW_ID, KEY, SOURCE_FILE, SOURCE_LINE)
    cols = rows.get_columns()
    del rows
    canonical = _filter_columns(cols, keep)
    # a group's row id, file, line, address and key are its winner's own (the group's last row): only the
    # merged columns can differ from the winner's cells
    own = {ROW_ID, SOURCE_FILE, SOURCE_LINE, EMAIL_RAW, KEY}
    at = positions(grouped)
    merged = [at[c] for c in columns if c not in own]
    # pl.nth, never names: a field label may be "*" or "^…$", which polars reads as a pattern
    canonical = patch_rows(canonical, grouped.select(pl.nth([at[ROW_ID], *merged])))
    grouped = grouped.filter(pl.col("_n") > 1)
    status_fix = _suppressed_by(canonical, suppressors)
    if status_fix.height:
        canonical = patch_rows(canonical, status_fix.select(ROW_ID, STATUS))
    losers = (
        multi.join(
            grouped.select(
                KEY,
                pl.col(ROW_ID).alias("_w"),
                pl.col(SOURCE_FILE).alias("_wf"),
                pl.col(SOURCE_LINE).alias("_wl"),
            ),
            on=KEY,
            how="left",
        )
        .filter(pl.col(ROW_ID) != pl.col("_w"))
        .select(
            ROW_ID,
            SOURCE_FILE,
            SOURCE_LINE,
            KEY,
            pl.lit(RejectReason.DUPLICATE.value).alias(REASON_CODE),
            pl.concat_str(
                [
                    pl.lit("same address as "),
                    pl.col("_wf"),
                    pl.lit(":"),
                    pl.col("_wl").cast(pl.String),
                    pl.lit(" (merged into that row)"),
                ]
            ).alias(REASON),
        )
    )
    groups = grouped.select(
        KEY,
        pl.col("row_ids").list.len().alias("rows"),
        pl.col(ROW_ID).alias("winner_row_id"),
        pl.col(SOURCE_FILE).alias("winner_file"),
        pl.col(SOURCE_LINE).alias("winner_line"),
        STATUS,
        "row_ids",
        "files",
        "lines",
        "statuses",
    )
    if status_fix.height:
        groups = groups.update(status_fix.select(KEY, STATUS), on=KEY)
    return Collapsed(
        canonical=canonical, losers=losers, groups=groups, suppressed_by_rejects=status_fix.height
    )


def _duplicated(hashes: pl.Series) -> pl.Series:
    """``hashes.is_duplicated()`` for non-null values (a null is never a duplicate here), by one sort and
    a look-up of the few repeated values: faster than polars' hash table at a million rows (``make bench``)."""
    ordered = hashes.sort()
    again = ordered.filter(ordered == ordered.shift(1)).unique()
    return hashes.is_in(again.implode()).fill_null(False)


def _filter_columns(columns: list[pl.Series], keep: pl.Series) -> pl.DataFrame:
    """``DataFrame(columns).filter(keep)``, one column at a time, each dropped from ``columns`` once done."""
    out = []
    while columns:
        out.append(columns.pop(0).filter(keep))
    return pl.DataFrame(out)


def patch_rows(frame: pl.DataFrame, patch: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (sorted by ROW_ID) with the cells of ``patch``'s rows (matched by ROW_ID, all present)
    replaced by ``patch``'s values. Only columns where some value differs are rebuilt; the rest are shared."""
    if not patch.height:
        return frame
    patch = patch.sort(ROW_ID)
    pos = frame.get_column(ROW_ID).is_in(patch.get_column(ROW_ID).implode()).arg_true()
    if pos.len() != patch.height:
        raise RuntimeError("patch rows missing from the canonical frame (a bug in validate)")
    at_col = positions(frame)
    old = frame.select(pl.nth([at_col[c] for c in patch.columns]))[pos]
    # Series methods run as expressions on the series' name: a label like "*" must not name one
    changed = [
        c
        for c in patch.columns
        if c != ROW_ID and old.get_column(c).alias("a").ne_missing(patch.get_column(c).alias("b")).any()
    ]
    if not changed:
        return frame
    like = frame.get_column(ROW_ID)
    schema = frame.schema
    flat = {
        c: aligned(frame.get_column(c).alias("v").scatter(pos, patch.get_column(c)), like).alias(c)
        for c in changed
        if not schema[c].is_nested()
    }
    nested = [c for c in changed if c not in flat]
    if nested:  # Series.scatter has no list kernel: a when/then over the whole column
        at = pl.repeat(None, frame.height, dtype=pl.UInt32, eager=True)
        at.scatter(pos, pl.int_range(pos.len(), dtype=pl.UInt32, eager=True))
        hit = at.is_not_null()
        # pl.nth, never pl.col(name): a field label may be "*" or "^…$", which pl.col reads as a pattern
        frame = frame.with_columns(
            pl.when(hit).then(pl.lit(patch.get_column(c)).gather(at)).otherwise(pl.nth(at_col[c])).alias(c)
            for c in nested
        )
    return frame.with_columns(flat.values()) if flat else frame


def _suppressed_by(canonical: pl.DataFrame, suppressors: pl.DataFrame | None) -> pl.DataFrame:
    """(ROW_ID, KEY, STATUS) of canonical rows whose status a suppressing rejected row changes."""
    empty = pl.DataFrame(schema={ROW_ID: pl.Int64, KEY: pl.String, STATUS: pl.String})
    if suppressors is None or not suppressors.height:
        return empty
    sup = (
        suppressors.filter(pl.col(STATUS).is_in(_SUPPRESSED))
        .group_by(KEY)
        .agg((pl.col(STATUS) == Status.CLEANED.value).any().alias("_cleaned"))
    )
    if not sup.height:
        return empty
    # three columns selected before the filter: a filter of the whole frame would copy every column
    hit = canonical.select(ROW_ID, KEY, STATUS).filter(pl.col(KEY).is_in(sup.get_column(KEY).implode()))
    fixed = hit.join(sup, on=KEY).with_columns(
        _merged_status(pl.col(STATUS), pl.col("_cleaned"), pl.lit(True)).alias("_new")
    )
    return fixed.filter(pl.col("_new") != pl.col(STATUS)).select(ROW_ID, KEY, pl.col("_new").alias(STATUS))
