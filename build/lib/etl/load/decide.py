"""What to do with one planned contact given what the account holds: pure policy, no I/O.

``on_existing`` policies for a key that already exists (and was not created by this run):

- ``merge`` (default): add our lists and tags, fill fields that are empty in the account, apply an
  unsubscribe. Never blanks a field, never removes a list or tag.
- ``overwrite``: like merge, but our non-empty field values replace the account's.
- ``skip``: leave fields, lists and tags alone (outcome ``skipped`` when they differ).

Under every policy an unsubscribe (our Inactive over their Active) is applied, because consent is not a
data-freshness question, and an Inactive contact is never reactivated (the API forbids it and so do we).
A contact this run created itself is reconciled with ``merge`` towards exactly the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etl.load.index import compact
from etl.model import BME_INACTIVE, Outcome, PlannedContact

POLICIES = ("merge", "overwrite", "skip")


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    create: bool = False
    put: bool = False  # GET (for __v) + PUT of the merged document
    patch: bool = False  # PATCH status to Inactive/Unsubscribe, always last (one-way door)

    @property
    def requests(self) -> int:
        return int(self.create) + 2 * int(self.put) + int(self.patch)


def is_inactive(doc: Mapping[str, Any]) -> bool:
    return str(doc.get("status") or "").lower() == BME_INACTIVE.lower()


def merged(
    plan: PlannedContact, doc: Mapping[str, Any], policy: str
) -> tuple[dict[str, str], list[str], list[str]]:
    """The fields, lists and tags the contact should carry after applying ``policy`` to ``doc``."""
    fields = dict(doc.get("fields") or {})
    lists = list(doc.get("lists") or [])
    tags = list(doc.get("tags") or [])
    if policy == "skip":
        return fields, lists, tags
    for fid, value in plan.fields:
        if value and (policy == "overwrite" or not fields.get(fid)):
            fields[fid] = value
    lists += [x for x in plan.lists if x not in lists]
    tags += [x for x in plan.tags if x not in tags]
    return fields, lists, tags


def differs(plan: PlannedContact, doc: Mapping[str, Any], policy: str) -> bool:
    fields, lists, tags = merged(plan, doc, policy)
    return (
        fields != dict(doc.get("fields") or {})
        or set(lists) != set(doc.get("lists") or [])
        or set(tags) != set(doc.get("tags") or [])
    )


def decide(
    plan: PlannedContact, doc: Mapping[str, Any] | None, policy: str = "merge", *, ours: bool = False
) -> Decision:
    """``doc`` is the index document of the existing contact (``None``: not in the account)."""
    if policy not in POLICIES:
        raise ValueError(f"on_existing must be one of {', '.join(POLICIES)}")
    if doc is None:
        return Decision(Outcome.CREATED, create=True, patch=False)
    effective = "merge" if ours else policy
    put = differs(plan, doc, effective)
    patch = plan.status == BME_INACTIVE and not is_inactive(doc)
    if ours:
        return Decision(Outcome.CREATED, put=put, patch=patch)
    if put or patch:
        return Decision(Outcome.UPDATED, put=put, patch=patch)
    if policy == "skip" and differs(plan, doc, "merge"):
        return Decision(Outcome.SKIPPED)
    return Decision(Outcome.UNCHANGED)


def put_body(plan: PlannedContact, current: Mapping[str, Any], policy: str) -> dict[str, Any] | None:
    """The full PUT document from a fresh GET (``current``), or ``None`` if it already matches.

    Everything the GET returned is carried over (status included, so a PUT never changes consent) minus
    server-managed fields; ``__v`` is the one just read.
    """
    doc = compact(current)
    if not differs(plan, doc, policy):
        return None
    fields, lists, tags = merged(plan, doc, policy)
    body: dict[str, Any] = {
        "key": current["key"],
        "fields": [{"_id": fid, "value": value} for fid, value in fields.items()],
        "lists": [{"_id": x} for x in lists],
        "tags": [{"_id": x} for x in tags],
        "__v": current.get("__v", 0),
    }
    if current.get("contactStructureId"):
        body["contactStructureId"] = current["contactStructureId"]
    if isinstance(current.get("status"), Mapping):
        body["status"] = dict(current["status"])
    return body
