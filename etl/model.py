"""The vocabulary every stage shares: canonical column names, statuses and row outcomes.

Stages exchange polars frames. Keeping the column names and the enums here (and nowhere else) is what
lets extract, validate, mapping, load and the reports agree without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# --- provenance columns, added by extract to every raw frame -------------------------------------------
ROW_ID = "row_id"  # int64, unique across all sources of one run, assigned in read order
SOURCE_FILE = "source_file"  # str: path (or URL) the row came from
SOURCE_LINE = "source_line"  # int64: 1-based physical line of the row's start (or record offset for APIs)
PROVENANCE = (ROW_ID, SOURCE_FILE, SOURCE_LINE)

# --- canonical contact columns, produced by validate ------------------------------------------------------
EMAIL_RAW = "email_raw"  # the address as it appeared in the source (kept for reports)
KEY = "key"  # trimmed, lower-cased address: the dedup and target key
STATUS = "status"  # one of Status
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
TAGS = "tags"  # list[str]
LISTS = "lists"  # list[str]: list *names*; mapping resolves them to ids
EVENT_TIME = "event_time"  # datetime (UTC) used by "latest row wins"; may be null
OUTCOME = "outcome"  # one of Outcome
REASON_CODE = "reason_code"
REASON = "reason"


class Status(StrEnum):
    """Normalised consent state of a person, whatever platform they came from."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    CLEANED = "cleaned"  # bounced or complained
    PENDING = "pending"  # unconfirmed double opt-in
    NO_CONSENT = "no_consent"

    @property
    def is_suppressed(self) -> bool:
        """True when the person must never arrive as Active."""
        return self in (Status.UNSUBSCRIBED, Status.CLEANED)


class Outcome(StrEnum):
    """What happened to one source row. Every row has exactly one at any time; reports sum them."""

    VALID = "valid"
    REJECTED = "rejected"
    MERGED_DUPLICATE = "merged_duplicate"
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    PENDING = "pending"


# Benchmark's own status vocabulary (case-sensitive on the wire).
BME_ACTIVE = "Active"
BME_INACTIVE = "Inactive"
BME_UNSUBSCRIBE = "Unsubscribe"


# --- the hand-offs between stages ----------------------------------------------------------------------
#
# extract  → raw frame: every source column as str (null for an empty cell), plus PROVENANCE columns.
# validate → canonical frame of *valid* rows (one per key): PROVENANCE + EMAIL_RAW, KEY, STATUS (str of
#            Status), TAGS (list[str]), LISTS (list[str]), EVENT_TIME (datetime UTC, nullable) and one str
#            column per FieldColumn (named by its label; values normalised: dates `YYYY-MM-DD`, recurrent
#            dates `MM-DD`, booleans `true`/`false`, numbers as plain decimals), plus a per-row outcome table.
# mapping  → request bodies keyed by KEY.


@dataclass(frozen=True)
class FieldColumn:
    """A canonical field column and where it came from; mapping resolves ``label`` to a structure ``_id``."""

    label: str  # target field label == the canonical column's name
    source: str  # the source header it was read from
    data_type: str = "text"  # text | number | date | boolean | recurrent_date
    predefined: str | None = None  # Benchmark predefinedField (firstName, lastName, …)
    custom: bool = False  # proposed for an unmapped column (preset says unmapped = "custom_text")
