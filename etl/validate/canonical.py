"""Which source column feeds which canonical column, decided once per run from the headers and a Preset.

Matching is by name (``presets.find_column``: case, space and punctuation tolerant), never by position.
The result, a ``ColumnPlan``, is plain data: the rules in ``rows.py`` turn it into polars expressions.

Unmapped columns: with ``unmapped = "custom_text"`` every column that no rule consumes becomes a custom
text field labelled with its header, except the email column, ``ignore``d columns, columns read by the
status / tags / lists / event_time rules, columns that are another alias of a mapped field, and the
bookkeeping columns of our own ``rejects.csv`` (so a fixed rejects file can be fed back as is). A label
that would clash with a canonical column or another label (case-insensitively) gets `` (2)``, `` (3)`` ….
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from etl.errors import InputError
from etl.model import (
    EMAIL_RAW,
    EVENT_TIME,
    KEY,
    LISTS,
    OUTCOME,
    PROVENANCE,
    REASON,
    REASON_CODE,
    STATUS,
    TAGS,
    FieldColumn,
)
from etl.presets.consent import ADDRESS_SHAPE, ConsentShape, address_part, classify_header, flag_check
from etl.presets.preset import FlagRule, Preset, find_column, norm_header

# Columns our rejects.csv adds after the original ones: ``reason_code, reason, source_file, source_line,
# field`` and, when extract rejected unparseable records, ``raw_line``. Read back, extract names the two
# provenance ones ``source_file (2)`` … (see etl/extract/dialect.py), and a name the export already had
# gets `` (2)``. They are bookkeeping (dropped, never data) only as that whole run of columns, in that
# order: a lone ``reason`` or ``source_file`` column of an export is data like any other (issue #15 item 3).
REJECT_EXTRA_COLUMNS = (REASON_CODE, REASON, "raw_line")
REJECT_FIELD_COLUMN = "field"
_SIGNATURE = tuple(
    re.compile(p)
    for p in (
        r"^reason_code(?: \(\d+\))?$",
        r"^reason(?: \(\d+\))?$",
        r"^source_file \(\d+\)$",
        r"^source_line \(\d+\)$",
        rf"^{REJECT_FIELD_COLUMN}(?: \(\d+\))?$",
    )
)
_RAW_LINE = re.compile(r"^raw_line(?: \(\d+\))?$")
RESERVED = frozenset(
    norm_header(c)
    for c in (*PROVENANCE, EMAIL_RAW, KEY, STATUS, TAGS, LISTS, EVENT_TIME, OUTCOME, REASON_CODE, REASON)
)


@dataclass(frozen=True)
class ColumnPlan:
    """The resolved columns for one raw frame. ``fields`` pairs each FieldColumn with its data formats."""

    email: str
    fields: tuple[FieldColumn, ...]
    formats: tuple[tuple[str, ...], ...]  # per field: the rule's formats + the preset's date_formats
    status: str | None
    flags: tuple[tuple[str, FlagRule], ...]
    tags: str | None
    lists: str | None
    event_time: tuple[str, ...]
    # columns no preset rule claims whose name says they carry consent (etl/presets/consent.py): read as
    # status signals, never stored as custom fields
    consent: tuple[tuple[str, ConsentShape], ...] = ()
    # the other unclaimed columns: watched for suppression words in their cells ("unsubscribed", "bounced")
    watch: tuple[str, ...] = ()
    # columns the preset's ``ignore`` drops: a suppression word in one still speaks (validate/status.py)
    ignored: tuple[str, ...] = ()


def source_columns(columns: Sequence[str]) -> list[str]:
    """The raw frame's source columns, in order (provenance columns removed)."""
    return [c for c in columns if c not in PROVENANCE]


def bookkeeping_columns(columns: Sequence[str]) -> frozenset[str]:
    """The columns our own rejects.csv added (fed back after fixing): replaced, never data.

    Recognised by the run of names rejects.csv writes after the original columns (the last such run:
    an export's own ``reason`` or ``field`` column, written first, stays data)."""
    cols = list(columns)
    n = len(_SIGNATURE)
    for start in range(len(cols) - n, -1, -1):
        if all(p.match(cols[start + k]) for k, p in enumerate(_SIGNATURE)):
            found = cols[start : start + n]
            if start + n < len(cols) and _RAW_LINE.match(cols[start + n]):
                found.append(cols[start + n])
            return frozenset(found)
    return frozenset()


def is_bookkeeping(column: str, columns: Sequence[str] = ()) -> bool:
    """``column`` is one our own rejects.csv added (``bookkeeping_columns`` of the export's ``columns``)."""
    return column in bookkeeping_columns(columns)


def plan_columns(columns: Sequence[str], preset: Preset, *, where: str | None = None) -> ColumnPlan:
    """Resolve a preset against the headers. No email column → ``InputError`` naming what was looked for."""
    headers = source_columns(columns)
    email = find_column(headers, preset.email)
    if email is None:
        raise InputError(
            f"no email column: looked for {_names(preset.email, 8)}; columns are {_names(headers, 12)}",
            path=where,
        )
    consumed = {email}
    status = find_column(headers, preset.status.columns) if preset.status.columns else None
    flags = []
    for flag in preset.status.flags:
        col = find_column(headers, flag.column)
        if col is not None:
            flags.append((col, flag))
    tags = find_column(headers, preset.tags.columns) if preset.tags.columns else None
    lists = (
        find_column(headers, preset.lists.columns)
        if preset.lists.mode == "column" and preset.lists.columns
        else None
    )
    event_time = tuple(dict.fromkeys(c for c in (find_column(headers, (a,)) for a in preset.event_time) if c))
    consumed.update(c for c in (status, tags, lists) if c)
    consumed.update(c for c, _ in flags)
    consumed.update(event_time)

    fields: list[FieldColumn] = []
    formats: list[tuple[str, ...]] = []
    used: set[str] = set(RESERVED)
    alias_norms: set[str] = set()
    for rule in preset.fields:
        alias_norms.update(norm_header(s) for s in rule.sources)
        col = find_column([h for h in headers if h != email], rule.sources)
        if col is None or norm_header(rule.target) in used:
            continue
        used.add(norm_header(rule.target))
        consumed.add(col)
        fields.append(
            FieldColumn(label=rule.target, source=col, data_type=rule.data_type, predefined=rule.predefined)
        )
        formats.append(tuple(dict.fromkeys((*rule.formats, *preset.date_formats))))

    ignored_norms = {norm_header(c) for c in preset.ignore}
    skip = {norm_header(c) for c in preset.ignore} | alias_norms
    ours = bookkeeping_columns(headers)
    not_consent = {norm_header(c) for c in preset.not_consent}
    consent: list[tuple[str, ConsentShape]] = []
    watch: list[str] = []
    for h in headers:
        # event_time columns date rows but may be an unsubscribe date as well: they are read here too
        if (h in consumed and h not in event_time) or norm_header(h) in skip or h in ours:
            continue
        shape = None if norm_header(h) in not_consent else classify_header(h)
        if shape is not None and shape.kind == "status" and address_part(h, headers):
            shape = ADDRESS_SHAPE  # "State" beside "City": read for status words, kept as a field below
        if shape is not None:
            consent.append((h, shape))
        if (shape is None or shape is ADDRESS_SHAPE) and h not in consumed:
            if norm_header(h) not in not_consent and shape is None:
                watch.append(h)
            if preset.unmapped == "custom_text":
                label = _free_label(h, used)
                used.add(norm_header(label))
                fields.append(FieldColumn(label=label, source=h, custom=True))
                formats.append(())
    # a preset's yes/no opt-out flag is read for what else its cells say: "maybe" in has_hard_bounced is a
    # question, not a silent subscribed (the flag itself still fires on the preset's values)
    # (a column several flags share is checked only when each of them is yes/no: Benchmark's "Sub Status"
    # lists its own words, "complaint-fbl" among them, which no shape reads)
    by_column: dict[str, list[ConsentShape | None]] = {}
    for col, flag in flags:
        by_column.setdefault(col, []).append(flag_check(flag))
    consent += [
        (col, checks[0])
        for col, checks in by_column.items()
        if col != status and norm_header(col) not in not_consent and checks[0] is not None and all(checks)
    ]
    return ColumnPlan(
        email=email,
        fields=tuple(fields),
        formats=tuple(formats),
        status=status,
        flags=tuple(flags),
        tags=tags,
        lists=lists,
        event_time=event_time,
        consent=tuple(consent),
        watch=tuple(watch),
        ignored=tuple(h for h in headers if h not in consumed and norm_header(h) in ignored_norms),
    )


def _names(names: Sequence[str], cap: int) -> str:
    """A short, one-line list of column names for an error message."""
    shown = [repr(n if len(n) <= 40 else n[:39] + "…").replace("\\n", " ") for n in names[:cap]]
    more = f" and {len(names) - cap} more" if len(names) > cap else ""
    return (", ".join(shown) or "(none)") + more


def _free_label(header: str, used: set[str]) -> str:
    base = header.strip().removeprefix("__bme_") or "column"  # that prefix is rows.py's working space
    label, n = base, 1
    while norm_header(label) in used or not norm_header(label):
        n += 1
        label = f"{base} ({n})"
    return label
