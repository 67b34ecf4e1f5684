"""Why a row (or one of its cells) was not written as read: the ``reason_code`` of ``rejects.csv``.

Every stage that turns a row away names the reason with a member of ``RejectReason`` and nothing else, so
the codes a user filters ``rejects.csv`` by, the counts the reports show and the rules that treat some
reasons specially (an unusable key, an address missing) cannot drift apart. The values are the strings
written to the files (a ``StrEnum`` compares equal to them) and must not change: users' scripts read them.

Each member carries the stage that decides it and a one-sentence meaning; ``docs/reject-reasons.md`` is
``reasons_table()`` written out (``python -m etl.reasons > docs/reject-reasons.md``), and a test holds the
two equal, so the documented table is the enum.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """A reject reason code: ``value`` as written, ``stage`` that decides it, ``meaning`` in one sentence."""

    stage: str
    meaning: str

    def __new__(cls, value: str, stage: str = "", meaning: str = "") -> RejectReason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.stage = stage
        member.meaning = meaning
        return member

    # --- extract: records that never became cells --------------------------------------------------------
    RAGGED_ROW = (
        "ragged_row",
        "extract",
        "The record has more or fewer cells than the header has columns, so no cell can be trusted.",
    )
    UNCLOSED_QUOTE = (
        "unclosed_quote",
        "extract",
        "A quoted cell opens but the file ends before its closing quote.",
    )
    INVALID_JSON = (
        "invalid_json",
        "extract",
        "The JSON line or item cannot be parsed, or holds JSON this tool cannot read (nested too deeply).",
    )
    NOT_AN_OBJECT = (
        "not_an_object",
        "extract",
        "The JSON item is not an object (an array, a string, a number), so it has no named fields.",
    )
    # --- validate: the row ------------------------------------------------------------------------------
    MISSING_EMAIL = ("missing_email", "validate", "The row has no email address in the email column.")
    INVALID_EMAIL = ("invalid_email", "validate", "The email address is not a valid address.")
    UNKNOWN_STATUS = (
        "unknown_status",
        "validate, mapping",
        "The status value is none the preset or the status words know, so the row's consent is unknown.",
    )
    CONSENT_UNCLEAR = (
        "consent_unclear",
        "validate",
        "Held, not written: another row of the same address has an unreadable status that may be an opt-out.",
    )
    DUPLICATE = (
        "duplicate",
        "validate",
        "Merged into another row of the same address, which decides the contact (consent wins, then latest).",
    )
    CONTRACT_ROW_ID = (
        "contract_row_id",
        "validate",
        "The row's id breaks the canonical contract (not unique): a bug in validate, please report it.",
    )
    CONTRACT_SOURCE_FILE = (
        "contract_source_file",
        "validate",
        "The row's source file name breaks the canonical contract (empty): a bug in validate.",
    )
    CONTRACT_SOURCE_LINE = (
        "contract_source_line",
        "validate",
        "The row's source line breaks the canonical contract (below 1): a bug in validate.",
    )
    CONTRACT_EMAIL_RAW = (
        "contract_email_raw",
        "validate",
        "The row's original address breaks the canonical contract (missing): a bug in validate.",
    )
    CONTRACT_KEY = (
        "contract_key",
        "validate",
        "The normalised address fails the canonical contract's key pattern or length (3 to 254 characters).",
    )
    CONTRACT_STATUS = (
        "contract_status",
        "validate",
        "The decided status is not one of the canonical statuses.",
    )
    CONTRACT_TAGS = (
        "contract_tags",
        "validate",
        "The row's tags break the canonical contract (missing): a bug in validate.",
    )
    CONTRACT_LISTS = (
        "contract_lists",
        "validate",
        "The row's list names break the canonical contract (missing): a bug in validate.",
    )
    CONTRACT_EVENT_TIME = (
        "contract_event_time",
        "validate",
        "The row's event time breaks the canonical contract: a bug in validate.",
    )
    CONTRACT_FIELD = (
        "contract_field",
        "validate",
        "A mapped field's normalised value fails its type's check in the canonical contract.",
    )
    # --- validate and mapping: one cell left out, the row is still written ------------------------------
    BAD_DATE = ("bad_date", "validate", "Cell left out: the value of a date field is not a date.")
    BAD_BOOLEAN = (
        "bad_boolean",
        "validate",
        "Cell left out: the value of a yes/no field is not true/false (yes/no, 1/0).",
    )
    BAD_NUMBER = ("bad_number", "validate", "Cell left out: the value of a number field is not a number.")
    TOO_LONG = (
        "too_long",
        "validate",
        "Cell left out: the text is longer than the 255 characters a Benchmark text field holds.",
    )
    TYPE_MISMATCH = (
        "type_mismatch",
        "mapping",
        "Cell left out: the value does not convert to the type of the account's field it maps to.",
    )
    # --- mapping: consent the run does not import -------------------------------------------------------
    UNCONFIRMED = (
        "unconfirmed",
        "mapping",
        "Skipped: the contact is pending double opt-in, imported only with --import-unconfirmed.",
    )
    NO_CONSENT = (
        "no_consent",
        "mapping",
        "Skipped: no marketing consent is recorded, imported only with --import-unconfirmed.",
    )
    # --- load ---------------------------------------------------------------------------------------------
    TARGET_REJECTED = (
        "target_rejected",
        "load",
        "Benchmark refused the contact's write; the reason column quotes its answer.",
    )

    @classmethod
    def contract(cls, column: str) -> RejectReason:
        """The reason for a canonical contract failure in ``column`` (a model column, not a field label)."""
        return cls(f"contract_{column}")


def reasons_table() -> str:
    """``docs/reject-reasons.md``: every reason, in the enum's order, as one Markdown table."""
    lines = [
        "# Reject reasons",
        "",
        "The `reason_code` column of `rejects.csv` (and the reasons the reports count) holds one of these codes.",
        "A row rejected by extract, validate or mapping is not written; a *cell left out* is a field problem:",
        "the row is written without that value. Generated from `etl/reasons.py`"
        " (`python -m etl.reasons > docs/reject-reasons.md`); a test keeps the two equal.",
        "",
        "| code | stage | meaning |",
        "|---|---|---|",
        *(f"| `{r.value}` | {r.stage} | {r.meaning} |" for r in RejectReason),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reasons_table(), end="")
