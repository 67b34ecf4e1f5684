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


@dataclass(frozen=True)
class PlannedContact:
    """The desired state of one target contact: the hand-off from mapping to load.

    Everything is already resolved to ids. ``fields`` holds only non-empty values, so an empty source cell
    can never blank a value that exists in the account. ``row_ids`` are all source rows that collapsed into
    this key (the winner first): load records one outcome per row id.
    """

    key: str  # trimmed, lower-cased email
    row_ids: tuple[int, ...]
    fields: tuple[tuple[str, str], ...] = ()  # (field _id, value), sorted by _id
    lists: tuple[str, ...] = ()  # list _ids, sorted
    tags: tuple[str, ...] = ()  # tag _ids, sorted
    status: str = BME_ACTIVE  # "Active" | "Inactive"
    secondary: str | None = None  # "Unsubscribe" when Inactive

    def create_body(self, structure_id: str, *, with_status: bool = True, with_tags: bool = True) -> dict:
        """The exact ``POST /api/contact`` body."""
        body: dict = {
            "key": self.key,
            "contactStructureId": structure_id,
            "fields": [{"_id": fid, "value": v} for fid, v in self.fields],
            "lists": [{"_id": lid} for lid in self.lists],
        }
        if with_tags and self.tags:
            body["tags"] = [{"_id": tid} for tid in self.tags]
        if with_status:
            body["status"] = self.status_body()
        return body

    def status_body(self) -> dict[str, str]:
        if self.status == BME_INACTIVE:
            return {"primary": BME_INACTIVE, "secondary": self.secondary or BME_UNSUBSCRIBE}
        return {"primary": BME_ACTIVE}


@dataclass(frozen=True)
class ResolvedMapping:
    """Names → ids for one run, saved with the run so a resume never re-resolves differently."""

    structure_id: str
    field_ids: tuple[tuple[str, str], ...]  # (canonical label, field _id)
    list_ids: tuple[tuple[str, str], ...]  # (list name, list _id)
    tag_ids: tuple[tuple[str, str], ...]  # (tag label, tag _id)
    # (field _id, the target field's dataType): transform coerces every value to the *account's* type
    field_types: tuple[tuple[str, str], ...] = ()
    extra_lists: tuple[str, ...] = ()  # list names (keys of list_ids) every contact also joins (--list)
