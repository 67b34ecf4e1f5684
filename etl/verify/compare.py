"""What a verified contact must look like, and how one read-back contact is compared with it: pure, no I/O.

The expected state is what the loader was asked to produce, re-derived from the ledger:

- a contact this run created (``ours``) must carry every planned field value, list and tag;
- a contact that existed before the run is expected as ``decide.merged(plan, before, policy)`` restricted to
  what the run planned: under ``merge`` a field that already held a value keeps *that* value, under
  ``overwrite`` the planned value wins; lists and tags are only ever added (planned ⊆ actual); under
  ``skip`` nothing but the status is expected (the run left the rest alone on purpose);
- a contact an earlier run of the state dir wrote (``base``: the cut-over delta) is expected as the
  three-way merge against that base: a field edited in Benchmark since keeps that value (unless the run
  said ``on_conflict="source"``), and only the lists and tags the source added since must be there;
- status: a planned Inactive must be Inactive; a planned Active may be Inactive only when the contact was
  already Inactive before the run (never re-activated, by the API's rule and ours) — that is a note, not a
  mismatch. The pre-run state comes from the ledger's ``existing`` table (the dedup index of the run).

Keys are compared case-insensitively; several account contacts sharing one lower-cased key is a mismatch
(``duplicate``), reported with every spelling found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl.load.decide import THREE_WAY, is_inactive, merged
from etl.model import BME_ACTIVE, BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact

CHECKED_OUTCOMES = ("created", "updated", "unchanged")

# mismatch kinds, in the order the summary lists them
MISSING, DUPLICATE, FIELD, LIST, TAG, STATUS = "missing", "duplicate", "field", "list", "tag", "status"
DISCREPANCY_KINDS = (MISSING, DUPLICATE, FIELD, LIST, TAG, STATUS)


@dataclass(frozen=True)
class Expected:
    """The desired state of one checked key (ids only; names come from the run's resolved mapping)."""

    key: str
    outcome: str
    contact_id: str | None
    fields: tuple[tuple[str, str], ...]  # (field _id, expected value)
    lists: tuple[str, ...]
    tags: tuple[str, ...]
    inactive: bool  # the run must have left it Inactive
    inactive_before: bool  # it was Inactive before the run (Inactive is then fine for a planned Active)
    secondary: str | None = None


@dataclass(frozen=True)
class Mismatch:
    key: str
    kind: str
    expected: Any
    actual: Any
    field: str | None = None  # field label, list name or tag label
    field_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"key": self.key, "kind": self.kind}
        if self.field is not None or self.field_id is not None:
            doc["field"] = self.field
            doc["field_id"] = self.field_id
        doc["expected"] = self.expected
        doc["actual"] = self.actual
        return doc


def expected_state(
    plan: PlannedContact,
    *,
    outcome: str,
    contact_id: str | None,
    ours: bool,
    before: Mapping[str, Any] | None,
    policy: str,
    base: PlannedContact | None = None,
    on_conflict: str = "target",
) -> Expected:
    """Re-derive what the loader aimed at for ``plan`` (``before``: the run's index doc, ``None`` if new;
    ``base``: what an earlier run of the state dir wrote for the key, if one did)."""
    inactive_before = before is not None and not ours and is_inactive(before)
    if ours or before is None:
        fields, lists, tags = dict(plan.fields), list(plan.lists), list(plan.tags)
    elif base is not None:
        all_fields, _, _ = merged(plan, before, THREE_WAY, base=base, on_conflict=on_conflict)
        fields = {fid: all_fields.get(fid, "") for fid, _ in plan.fields}
        lists = [x for x in plan.lists if x not in base.lists]
        tags = [x for x in plan.tags if x not in base.tags]
    elif policy == "skip":
        fields, lists, tags = {}, [], []
    else:
        all_fields, _, _ = merged(plan, before, policy)
        fields = {fid: all_fields.get(fid, "") for fid, _ in plan.fields}
        lists, tags = list(plan.lists), list(plan.tags)
    return Expected(
        key=plan.key,
        outcome=outcome,
        contact_id=contact_id,
        fields=tuple(sorted(fields.items())),
        lists=tuple(sorted(lists)),
        tags=tuple(sorted(tags)),
        inactive=plan.status == BME_INACTIVE,
        inactive_before=inactive_before,
        secondary=(plan.secondary or BME_UNSUBSCRIBE) if plan.status == BME_INACTIVE else None,
    )


@dataclass(frozen=True)
class Names:
    """Labels for ids in messages (from the run's resolved mapping; an unknown id is shown as itself)."""

    fields: Mapping[str, str]
    lists: Mapping[str, str]
    tags: Mapping[str, str]

    def field(self, fid: str) -> str:
        return self.fields.get(fid, fid)

    def list(self, lid: str) -> str:
        return self.lists.get(lid, lid)

    def tag(self, tid: str) -> str:
        return self.tags.get(tid, tid)


def status_text(doc: Mapping[str, Any]) -> str:
    primary = str(doc.get("status") or "?")
    return f"{primary}/{doc['secondary']}" if doc.get("secondary") else primary


def pick(docs: Sequence[Mapping[str, Any]], exp: Expected) -> Mapping[str, Any]:
    """Among contacts sharing the key, the one the run wrote: its ``_id``, else the lower-case spelling."""
    for doc in docs:
        if exp.contact_id and doc.get("_id") == exp.contact_id:
            return doc
    for doc in docs:
        if doc.get("key") == exp.key:
            return doc
    return docs[0]


def compare(
    exp: Expected, docs: Sequence[Mapping[str, Any]], names: Names
) -> tuple[list[Mismatch], list[str]]:
    """Mismatches and notes for one key, given every account contact whose lower-cased key equals it."""
    if not docs:
        return [Mismatch(exp.key, MISSING, "present", "not found")], []
    out: list[Mismatch] = []
    notes: list[str] = []
    if len(docs) > 1:
        spellings = sorted(str(d.get("key")) for d in docs)
        out.append(Mismatch(exp.key, DUPLICATE, 1, spellings))
    doc = pick(docs, exp)
    have_fields = doc.get("fields") or {}
    for fid, want in exp.fields:
        got = have_fields.get(fid, "")
        if got != want:
            out.append(Mismatch(exp.key, FIELD, want, got, names.field(fid), fid))
    have_lists = set(doc.get("lists") or [])
    out += [
        Mismatch(exp.key, LIST, "member", "not a member", names.list(lid), lid)
        for lid in exp.lists
        if lid not in have_lists
    ]
    have_tags = set(doc.get("tags") or [])
    out += [
        Mismatch(exp.key, TAG, "tagged", "not tagged", names.tag(tid), tid)
        for tid in exp.tags
        if tid not in have_tags
    ]
    actual_inactive = is_inactive(doc)
    if exp.inactive and not actual_inactive:
        out.append(Mismatch(exp.key, STATUS, f"{BME_INACTIVE}/{exp.secondary}", status_text(doc)))
    elif not exp.inactive and actual_inactive:
        if exp.inactive_before:
            notes.append(
                f"{exp.key}: kept {status_text(doc)} although the export says Active — it was Inactive "
                "before the run and Inactive is never re-activated"
            )
        else:
            out.append(Mismatch(exp.key, STATUS, BME_ACTIVE, status_text(doc)))
    return out, notes


def describe(m: Mismatch) -> str:
    """One terminal line naming the key and, where there is one, the field, list or tag."""
    if m.kind == MISSING:
        return f"{m.key}: not found in the account"
    if m.kind == DUPLICATE:
        spelled = ", ".join(f'"{k}"' for k in m.actual)
        return f"{m.key}: {len(m.actual)} contacts share this key ({spelled})"
    if m.kind == FIELD:
        got = f'"{m.actual}"' if m.actual else "empty"
        return (
            f'{m.key}: field "{m.field}" (id {m.field_id}) is {got} in the account, expected "{m.expected}"'
        )
    if m.kind == LIST:
        return f'{m.key}: list "{m.field}" missing'
    if m.kind == TAG:
        return f'{m.key}: tag "{m.field}" missing'
    hint = " (re-activated?)" if str(m.expected).startswith(BME_INACTIVE) else ""
    return f"{m.key}: status {m.actual}, expected {m.expected}{hint}"
