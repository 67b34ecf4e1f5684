"""Stop a migration before its first write when the export is clearly not what the user thinks it is.

A run that loads 0 of 717 contacts and ends "complete" (exit 0) hides the problem until someone counts.
So before the first request that writes (resolution's structure PUT included), ``stop_reason`` looks at
what validate found and returns a one-line reason to stop when:

* **no contact would be written**: no row is valid, or every valid contact is pending / no-consent and
  skipped (without ``--import-unconfirmed``); or
* **most rows were rejected**: of the rows that hold an address at all (rows with an empty email cell,
  such as a spreadsheet's trailing blank lines, are not counted), more than half were rejected — for
  any reason (an invalid address, an unknown status, a broken record); rows merged into a duplicate
  count as rows that arrive, not as rejects.

``--allow-mostly-rejected`` proceeds anyway. A run already started (or complete) is never stopped here:
it passed this check when it began.
"""

from __future__ import annotations

import polars as pl

from etl.model import REASON_CODE, STATUS, Status
from etl.reasons import RejectReason
from etl.validate.core import ValidationResult

_WRITTEN = (Status.SUBSCRIBED.value, Status.UNSUBSCRIBED.value, Status.CLEANED.value)
_NO_ADDRESS = RejectReason.MISSING_EMAIL.value
_TOP_REASONS = 3


def _reasons(result: ValidationResult, *, without: str | None = None) -> str:
    """``invalid_email 590, unknown_status 10`` — the main reject reasons, most frequent first."""
    rej = result.rejections
    if without is not None:
        rej = rej.filter(pl.col(REASON_CODE) != without)
    top = rej.group_by(REASON_CODE).len().sort(["len", REASON_CODE], descending=[True, False])
    shown = [f"{code} {n:,}" for code, n in top.head(_TOP_REASONS).iter_rows()]
    return ", ".join(shown) + (", …" if top.height > _TOP_REASONS else "")


def stop_reason(result: ValidationResult, *, import_unconfirmed: bool = False) -> str | None:
    """Why this run must stop before writing (one line naming the main reason and the counts), or None."""
    c = result.counts
    canon = result.canonical
    # counted, never filtered: a filter of the whole frame copies every column of a million rows
    written = (
        canon.height if import_unconfirmed else int(canon.select(pl.col(STATUS).is_in(_WRITTEN).sum()).item())
    )
    if c.rows_read == 0:
        return "no contact would be written: the sources hold no rows"
    if c.valid == 0:
        return (
            f"no contact would be written: 0 of {c.rows_read:,} rows are valid "
            f"(rejected: {_reasons(result)}; see rejects.csv)"
        )
    if written == 0:
        return (
            f"no contact would be written: all {c.valid:,} valid contacts are pending or have no consent "
            "(skipped without --import-unconfirmed)"
        )
    no_address = result.rejections.filter(pl.col(REASON_CODE) == _NO_ADDRESS).height
    with_address = c.rows_read - no_address  # merged duplicates count: their person arrives
    rejected = c.rejected - no_address
    if with_address > 0 and rejected * 2 > with_address:
        return (
            f"most rows were rejected: {rejected:,} of {with_address:,} rows with an address "
            f"({_reasons(result, without=_NO_ADDRESS)}; see rejects.csv); only {written:,} contact(s) "
            "would be written"
        )
    return None
