"""What to do with one planned contact given what the account holds: pure policy, no I/O.

``on_existing`` policies for a key that already exists (and was not created by this run):

- ``merge`` (default): add our lists and tags, fill fields that are empty in the account, apply an
  unsubscribe. Never blanks a field, never removes a list or tag.
- ``overwrite``: like merge, but our non-empty field values replace the account's.
- ``skip``: leave fields, lists and tags alone (outcome ``skipped`` when they differ).

Under every policy an unsubscribe (our Inactive over their Active) is applied, because consent is not a
data-freshness question, and an Inactive contact is never reactivated (the API forbids it and so do we).
A contact this run created itself is reconciled with ``merge`` towards exactly the plan.

``three_way`` (the cut-over delta) is not a flag value: the loader uses it for every key an earlier run of
the same state dir wrote (created or updated), with that run's plan as the *base*, field by field:

- the source changed since the base and Benchmark still holds the base value → update;
- Benchmark holds something else than the base (edited there since) and the source differs from it → a
  ``Conflict``, kept (``on_conflict="target"``, the default) or overwritten (``"source"``);
- an empty source value never blanks a field; lists and tags the source added since the base are added
  unless Benchmark has them, and nothing is ever removed (a list removed in Benchmark stays removed);
- status as under every policy: Inactive is applied, never the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl.load.index import compact
from etl.model import BME_INACTIVE, Outcome, PlannedContact

POLICIES = ("merge", "overwrite", "skip")
THREE_WAY = "three_way"  # chosen by the loader for keys with a base, never by a flag
ON_CONFLICT = ("target", "source")


@dataclass(frozen=True)
class Conflict:
    """A field edited in Benchmark since this state dir wrote it, and different in the source too."""

    field: str  # field _id
    source: str
    target: str
    base: str | None  # what we wrote last (None: we never wrote this field)


@dataclass(frozen=True)
class Delta:
    """The three-way merge of one contact: the document to hold, and what changed and collided."""

    fields: dict[str, str]
    lists: list[str]
    tags: list[str]
    updated: tuple[str, ...]  # field ids written because the source changed them since the base
    conflicts: tuple[Conflict, ...]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    create: bool = False
    put: bool = False  # GET (for __v) + PUT of the merged document
    patch: bool = False  # PATCH status to Inactive/Unsubscribe, always last (one-way door)
    updated: tuple[str, ...] = ()  # three_way: field ids the source changed since the base
    conflicts: tuple[Conflict, ...] = ()  # three_way: fields edited in Benchmark since the base

    @property
    def requests(self) -> int:
        return int(self.create) + 2 * int(self.put) + int(self.patch)


def is_inactive(doc: Mapping[str, Any]) -> bool:
    return str(doc.get("status") or "").lower() == BME_INACTIVE.lower()


def three_way(
    plan: PlannedContact, doc: Mapping[str, Any], base: PlannedContact, on_conflict: str = "target"
) -> Delta:
    """Source ``plan``, target ``doc`` (an index document), ``base`` (what this state dir wrote last)."""
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}")
    fields = dict(doc.get("fields") or {})
    was = dict(base.fields)
    updated: list[str] = []
    conflicts: list[Conflict] = []
    for fid, value in plan.fields:
        target = fields.get(fid) or ""
        if not value or value == target:
            continue
        if target == (was.get(fid) or ""):
            fields[fid] = value
            updated.append(fid)
            continue
        conflicts.append(Conflict(fid, value, target, was.get(fid)))
        if on_conflict == "source":
            fields[fid] = value
    lists = list(doc.get("lists") or [])
    tags = list(doc.get("tags") or [])
    lists += [x for x in plan.lists if x not in lists and x not in base.lists]
    tags += [x for x in plan.tags if x not in tags and x not in base.tags]
    return Delta(fields, lists, tags, tuple(updated), tuple(conflicts))


def merged(
    plan: PlannedContact,
    doc: Mapping[str, Any],
    policy: str,
    *,
    base: PlannedContact | None = None,
    on_conflict: str = "target",
) -> tuple[dict[str, str], list[str], list[str]]:
    """The fields, lists and tags the contact should carry after applying ``policy`` to ``doc``
    (``base``: required by ``three_way``)."""
    if policy == THREE_WAY:
        if base is None:
            raise ValueError("three_way needs the base: what this state dir wrote last")
        delta = three_way(plan, doc, base, on_conflict)
        return delta.fields, delta.lists, delta.tags
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


def _changes(doc: Mapping[str, Any], result: tuple[dict[str, str], list[str], list[str]]) -> bool:
    """Whether the merged ``(fields, lists, tags)`` differ from what ``doc`` holds (order of lists aside)."""
    fields, lists, tags = result
    return (
        fields != dict(doc.get("fields") or {})
        or set(lists) != set(doc.get("lists") or [])
        or set(tags) != set(doc.get("tags") or [])
    )


def decide(
    plan: PlannedContact,
    doc: Mapping[str, Any] | None,
    policy: str = "merge",
    *,
    ours: bool = False,
    base: PlannedContact | None = None,
    on_conflict: str = "target",
) -> Decision:
    """``doc`` is the index document of the existing contact (``None``: not in the account); ``base`` is
    what this state dir wrote last for the key (``policy`` ``three_way`` only)."""
    if policy not in (*POLICIES, THREE_WAY):
        raise ValueError(f"on_existing must be one of {', '.join(POLICIES)}")
    if doc is None:
        return Decision(Outcome.CREATED, create=True, patch=False)
    patch = plan.status == BME_INACTIVE and not is_inactive(doc)
    if policy == THREE_WAY and not ours:
        if base is None:
            raise ValueError("three_way needs the base: what this state dir wrote last")
        delta = three_way(plan, doc, base, on_conflict)
        put = _changes(doc, (delta.fields, delta.lists, delta.tags))
        outcome = Outcome.UPDATED if put or patch else Outcome.UNCHANGED
        return Decision(outcome, put=put, patch=patch, updated=delta.updated, conflicts=delta.conflicts)
    effective = "merge" if ours else policy
    put = _changes(doc, merged(plan, doc, effective))
    if ours:
        return Decision(Outcome.CREATED, put=put, patch=patch)
    if put or patch:
        return Decision(Outcome.UPDATED, put=put, patch=patch)
    if policy == "skip" and _changes(doc, merged(plan, doc, "merge")):
        return Decision(Outcome.SKIPPED)
    return Decision(Outcome.UNCHANGED)


def put_body(
    plan: PlannedContact,
    current: Mapping[str, Any],
    policy: str,
    *,
    base: PlannedContact | None = None,
    on_conflict: str = "target",
) -> dict[str, Any] | None:
    """The full PUT document from a fresh GET (``current``), or ``None`` if it already matches.

    Everything the GET returned is carried over (status included, so a PUT never changes consent) minus
    server-managed fields; ``__v`` is the one just read.
    """
    doc = compact(current)
    result = merged(plan, doc, policy, base=base, on_conflict=on_conflict)
    return replacement(current, *result) if _changes(doc, result) else None


def replacement(
    current: Mapping[str, Any], fields: Mapping[str, Any], lists: Sequence[str], tags: Sequence[str]
) -> dict[str, Any]:
    """The PUT (full replacement) of ``current`` — a fresh GET — with these fields, lists and tags.

    The status and the structure are carried over as read, so a PUT never changes consent; ``__v`` is the
    one just read (a concurrent edit makes the PUT fail instead of being overwritten)."""
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
