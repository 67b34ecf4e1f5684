"""Undo a run: the reverse of the load, planned from the ledger and the account, applied only when asked.

What a run did is in its ledger: the contacts it created (``ours``), the documents of the contacts that
existed before it (``existing``, its dedup index) and what it wrote (the plan). The account is read back
(batched ``KEY`` searches through ``SearchPager``, one request per page of keys) and compared with that:

- a contact the run created and that still holds exactly what the run wrote (fields, lists, tags, status)
  is **deleted**; one changed since (someone edited it, it unsubscribed, it was replaced by another contact
  of the same key) is **kept** and reported with what differs — a person's later edit or unsubscribe is
  never thrown away; one already gone needs nothing;
- a contact that existed before the run loses the **list memberships the run added** (the plan's lists it
  did not have before) and nothing else: GET for ``__v``, PUT of the same document without those lists
  (membership is stored on the contact; there is no per-membership route);
- a contact the run only updated (fields filled, tags added, unsubscribed) is **listed with its
  before-values**, not reverted: the account may have moved on, and an unsubscribe must never be undone.

Every write is logged in the ledger's ``undo`` table: ``in_flight`` committed before the request, ``done``
after its answer. A re-run reads back only what is not yet done, so once an undo finished it sends nothing;
a killed undo re-plans from the account (the read-back is the truth: a delete that landed before the kill
is found gone and settled without a request). A 404 on delete means someone (or our lost attempt) already
deleted it: done. Requests go through the run's ``BenchmarkClient`` and ``Pacer`` (``--max-requests``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.benchmark.client import BenchmarkClient, NotFound, StaleVersion
from etl.benchmark.search import SearchPager
from etl.errors import RecordRejected
from etl.load.decide import is_inactive, replacement
from etl.load.index import SOURCE, compact
from etl.load.ledger import DONE, IN_FLIGHT, PLANNED, STATUS_PENDING, ContactRow, RunLedger
from etl.mailbox import mailbox_key
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, Outcome, PlannedContact

DELETE = "undo_delete"
REMOVE_LISTS = "undo_remove_lists"
ALL_STATES = (PLANNED, IN_FLIGHT, STATUS_PENDING, DONE)

Doc = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One way a created contact differs from what the run wrote: ``what`` is field, lists, tags, status
    or contact (another contact now holds the key); ``ref`` the field id."""

    what: str
    ref: str | None
    wrote: Any
    now: Any

    def to_dict(self, labels: Mapping[str, str]) -> dict[str, Any]:
        doc: dict[str, Any] = {"what": self.what}
        if self.ref is not None:
            doc["field"] = labels.get(self.ref, self.ref)
            doc["field_id"] = self.ref
        doc["wrote"] = self.wrote
        doc["now"] = self.now
        return doc


@dataclass(frozen=True)
class Action:
    """One write of the undo: delete ``contact_id``, or remove ``lists`` from it."""

    key: str
    kind: str  # DELETE | REMOVE_LISTS
    contact_id: str
    lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kept:
    key: str
    contact_id: str | None
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Updated:
    """A pre-existing contact the run updated: its values before the run, for a person to judge."""

    key: str
    contact_id: str | None
    before: Doc


@dataclass
class UndoPlan:
    run_id: str
    structure_id: str
    policy: str
    deletes: list[Action] = field(default_factory=list)
    removals: list[Action] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # created contacts no longer in the account
    updated: list[Updated] = field(default_factory=list)
    done_before: int = 0  # actions an earlier undo of this run finished (not read again)
    in_flight: list[tuple[str, str]] = field(default_factory=list)  # (key, action) a killed undo left
    reads: int = 0  # search requests the read-back spent
    lookups: int = 0  # keys read back
    page_size: int | None = None

    @property
    def writes(self) -> int:
        """Write requests ``--yes`` will send: one DELETE each, GET + PUT per list removal."""
        return len(self.deletes) + 2 * len(self.removals)


@dataclass
class UndoResult:
    plan: UndoPlan
    applied: bool
    results: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, action) → what happened

    def count(self, result: str) -> int:
        return sum(1 for r in self.results.values() if r == result)


# --- planning --------------------------------------------------------------------------------------------------
def _created(row: ContactRow) -> bool:
    """The run created this contact, or may have (a create left in flight: found means ours, as the load
    itself decides on resume)."""
    return row.ours or (row.state == IN_FLIGHT and row.op == "create")


def _touched(row: ContactRow) -> bool:
    """The run updated (or may have updated) a contact that existed before it."""
    return row.outcome == Outcome.UPDATED.value or (row.state == IN_FLIGHT and row.op in ("put", "patch"))


def changes_since(plan: PlannedContact, doc: Mapping[str, Any]) -> list[Change]:
    """How ``doc`` (compact form) differs from what the run wrote for a contact it created."""
    out: list[Change] = []
    wrote = dict(plan.fields)
    now = {k: v for k, v in (doc.get("fields") or {}).items() if v}
    for fid in sorted(set(wrote) | set(now)):
        if wrote.get(fid, "") != now.get(fid, ""):
            out.append(Change("field", fid, wrote.get(fid, ""), now.get(fid, "")))
    for what, mine in (("lists", plan.lists), ("tags", plan.tags)):
        theirs = sorted(doc.get(what) or [])
        if set(mine) != set(theirs):
            out.append(Change(what, None, sorted(mine), theirs))
    want = (plan.status, (plan.secondary or BME_UNSUBSCRIBE) if plan.status == BME_INACTIVE else None)
    inactive = is_inactive(doc)
    have = (
        BME_INACTIVE if inactive else str(doc.get("status") or ""),
        doc.get("secondary") if inactive else None,
    )
    if want != have:
        out.append(
            Change("status", None, "/".join(x for x in want if x), "/".join(str(x) for x in have if x))
        )
    return out


def _before_values(plan: PlannedContact, before: Mapping[str, Any], labels: Mapping[str, str]) -> Doc:
    """What a person needs to revert an update by hand: the planned fields' values before the run, and the
    status, lists and tags it had."""
    fields = before.get("fields") or {}
    return {
        "fields": {labels.get(fid, fid): fields.get(fid, "") for fid, _ in plan.fields},
        "status": before.get("status"),
        "secondary": before.get("secondary"),
        "lists": list(before.get("lists") or []),
        "tags": list(before.get("tags") or []),
    }


def _pick(group: Sequence[Doc], contact_id: str | None, key: str) -> Doc | None:
    """The contact of ``group`` (same mailbox key) that the run knows: its ``_id``, else the only one."""
    if contact_id is not None:
        return next((d for d in group if d.get("_id") == contact_id), None)
    exact = [d for d in group if d.get("key") == key]
    return exact[0] if len(exact) == 1 else (group[0] if len(group) == 1 else None)


def plan_undo(
    client: BenchmarkClient,
    ledger: RunLedger,
    structure_id: str,
    policy: str,
    *,
    labels: Mapping[str, str] | None = None,
    on_read: Callable[[int, int], None] | None = None,
) -> UndoPlan:
    """Read back what the run touched and decide every action (sends searches only).

    ``policy``: the run's ``--on-existing`` (under ``skip`` it added no list to a pre-existing contact).
    ``labels``: field id → label, for the report. ``on_read(keys, searches)`` hears the read-back's bill
    before it is spent (searches: at most, one page of keys each).
    """
    labels = labels or {}
    plan = UndoPlan(ledger.run_id, structure_id, policy)
    log = ledger.undo_log()
    before = ledger.existing()
    created: list[ContactRow] = []
    widened: list[tuple[ContactRow, list[str]]] = []  # pre-existing contacts and the lists the run added
    for row in ledger.iter_contacts(ALL_STATES):
        key = row.plan.key
        if _created(row):
            state = log.get((key, DELETE), (None, None))[0]
            if state == DONE:
                plan.done_before += 1
                continue
            if state == IN_FLIGHT:
                plan.in_flight.append((key, DELETE))
            created.append(row)
            continue
        old = before.get(key)
        if old is None or not _touched(row):
            continue
        plan.updated.append(
            Updated(key, row.contact_id or old.get("_id"), _before_values(row.plan, old, labels))
        )
        added = [] if policy == "skip" else sorted(set(row.plan.lists) - set(old.get("lists") or []))
        if not added:
            continue
        state = log.get((key, REMOVE_LISTS), (None, None))[0]
        if state == DONE:
            plan.done_before += 1
            continue
        if state == IN_FLIGHT:
            plan.in_flight.append((key, REMOVE_LISTS))
        widened.append((row, added))

    lookups = [r.plan.key for r in created] + [r.plan.key for r, _ in widened]
    lookups += [str(before[k]["key"]) for k in lookups if k in before and before[k].get("key") != k]
    lookups = list(dict.fromkeys(lookups))
    plan.lookups = len(lookups)
    page_size = ledger.get_meta("page_size")
    pager = SearchPager(client, structure_id, page_size=int(page_size) if page_size else None)
    if on_read is not None:
        on_read(len(lookups), read_cost(len(lookups), pager.page_size))
    found = _read_back(pager, lookups)
    plan.reads, plan.page_size = pager.requests, pager.page_size
    for row in created:
        _judge_created(plan, row, found.get(row.plan.key, []))
    for row, added in widened:
        old_id = before[row.plan.key].get("_id")
        picked = _pick(found.get(row.plan.key, []), str(old_id) if old_id else row.contact_id, row.plan.key)
        still = [lid for lid in added if picked is not None and lid in (picked.get("lists") or [])]
        if picked is not None and still:
            plan.removals.append(Action(row.plan.key, REMOVE_LISTS, str(picked["_id"]), tuple(still)))
    return plan


def _read_back(pager: SearchPager, lookups: Sequence[str]) -> dict[str, list[Doc]]:
    """The account's contacts for ``lookups`` (batched KEY searches), grouped by mailbox key."""
    found: dict[str, list[Doc]] = {}
    if not lookups:
        return found
    seen: set[str] = set()
    for contacts in pager.by_keys(lookups, SOURCE):
        for raw in contacts:
            doc = compact(raw)
            if isinstance(doc.get("key"), str) and str(doc["_id"]) not in seen:
                seen.add(str(doc["_id"]))
                found.setdefault(mailbox_key(doc["key"]), []).append(doc)
    return found


def _judge_created(plan: UndoPlan, row: ContactRow, group: Sequence[Doc]) -> None:
    """Delete, keep or nothing for a contact the run created, given the account's contacts of its key."""
    key = row.plan.key
    doc = _pick(group, row.contact_id, key)
    if doc is None:
        if group:  # the key is held by a contact that is not the one the run created
            now = [str(d.get("_id")) for d in group]
            plan.kept.append(Kept(key, row.contact_id, (Change("contact", None, row.contact_id, now),)))
        else:
            plan.gone.append(key)
        return
    diff = changes_since(row.plan, doc)
    if diff:
        plan.kept.append(Kept(key, str(doc["_id"]), tuple(diff)))
    else:
        plan.deletes.append(Action(key, DELETE, str(doc["_id"])))


def read_cost(lookups: int, page_size: int | None) -> int:
    """Searches a read-back of ``lookups`` keys costs at most (one page of keys per request, plus a probe
    when the run never learned a page size)."""
    if not lookups:
        return 0
    return math.ceil(lookups / (page_size or 1000)) + (0 if page_size else 1)


# --- applying -------------------------------------------------------------------------------------------------
def _without_lists(current: Mapping[str, Any], drop: Sequence[str]) -> Doc:
    """The PUT body that keeps everything ``current`` (a fresh GET) holds except the ``drop`` lists."""
    fields = {
        f["_id"]: f.get("value") for f in current.get("fields") or [] if isinstance(f, Mapping) and "_id" in f
    }
    lists = [x["_id"] for x in current.get("lists") or [] if isinstance(x, Mapping) and x["_id"] not in drop]
    tags = [x["_id"] for x in current.get("tags") or [] if isinstance(x, Mapping)]
    return replacement(current, fields, lists, tags)


def _remove_lists(client: BenchmarkClient, action: Action) -> str:
    """GET for ``__v``, PUT without the lists; one retry on a stale ``__v``. What happened, in words."""
    for attempt in (1, 2):
        try:
            current = client.get_contact(action.contact_id)
        except NotFound:
            return "already gone"
        have = {x.get("_id") for x in current.get("lists") or [] if isinstance(x, Mapping)}
        if not have & set(action.lists):
            return "already removed"
        try:
            client.put_contact(action.contact_id, _without_lists(current, action.lists))
            return "lists removed"
        except NotFound:
            return "already gone"
        except StaleVersion:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _delete(client: BenchmarkClient, action: Action) -> str:
    try:
        client.delete_contact(action.contact_id)
    except NotFound:
        return "already gone"
    return "deleted"


def apply_undo(
    client: BenchmarkClient,
    ledger: RunLedger,
    result: UndoResult,
    *,
    on_done: Callable[[int, int], None] | None = None,
) -> UndoResult:
    """Send the plan's writes, each intent-logged first and settled after its answer.

    Actions a killed undo left in flight that the read-back shows as finished (the contact gone, the lists
    no longer there) are settled without a request. A stop before a request went out (``--max-requests``,
    monthly quota) forgets its intent; one that may have reached the account stays in flight for the next
    run, which re-reads it. ``result`` is filled as actions finish, so a stop still shows what was done.
    """
    plan = result.plan
    result.applied = True
    pending = {(a.key, a.kind) for a in (*plan.deletes, *plan.removals)}
    gone = set(plan.gone)
    for key, kind in plan.in_flight:
        if (key, kind) in pending:
            continue  # sent again below (a DELETE answered 404 counts as done)
        if kind == REMOVE_LISTS or key in gone:
            outcome = "already gone" if kind == DELETE else "already removed"
            ledger.undo_settle(key, kind, outcome)
            result.results[(key, kind)] = outcome
        # else: a delete that did not land on a contact changed since: kept, stays in flight, re-read next time
    actions = [*plan.deletes, *plan.removals]
    for i, action in enumerate(actions, 1):
        ledger.undo_intent(action.key, action.kind, action.contact_id)
        try:
            outcome = _delete(client, action) if action.kind == DELETE else _remove_lists(client, action)
        except RecordRejected as exc:  # refused by the account: not done, the next undo tries again
            ledger.undo_revert(action.key, action.kind)
            result.results[(action.key, action.kind)] = f"failed: {exc}"
            continue
        except BaseException:
            if not client.ambiguous:  # the last request certainly did not apply
                ledger.undo_revert(action.key, action.kind)
            raise
        ledger.undo_settle(action.key, action.kind, outcome)
        result.results[(action.key, action.kind)] = outcome
        if on_done is not None:
            on_done(i, len(actions))
    return result


# --- the report --------------------------------------------------------------------------------------------
def undo_lines(plan: UndoPlan, list_names: Mapping[str, str], labels: Mapping[str, str]) -> list[str]:
    """The plan as a person reads it: counts, the request bill, then every kept contact and why."""
    memberships = sum(len(a.lists) for a in plan.removals)
    lines = [
        f"undo plan for run {plan.run_id} (on-existing {plan.policy}):",
        f"  delete:        {len(plan.deletes):,} contact(s) the run created, unchanged since",
        f"  keep:          {len(plan.kept):,} created contact(s) changed since the run (not deleted)",
        f"  already gone:  {len(plan.gone):,} created contact(s) no longer in the account",
        f"  remove lists:  {memberships:,} membership(s) the run added to {len(plan.removals):,} "
        "pre-existing contact(s)",
        f"  not reverted:  {len(plan.updated):,} pre-existing contact(s) the run updated "
        "(before-values in undo.json)",
    ]
    if plan.done_before:
        lines.append(f"  already undone: {plan.done_before:,} action(s) of an earlier undo")
    if plan.in_flight:
        lines.append(f"  resumed:       {len(plan.in_flight):,} action(s) an interrupted undo left in flight")
    lines.append(
        f"requests: {plan.reads:,} search(es) spent reading {plan.lookups:,} key(s) back; --yes sends "
        f"{plan.writes:,} more ({len(plan.deletes):,} DELETE + {len(plan.removals):,} GET/PUT pair(s))"
    )
    for kept in plan.kept:
        lines.append(
            f"  kept {kept.key}: " + "; ".join(_describe(c, list_names, labels) for c in kept.changes)
        )
    return lines


def _describe(change: Change, list_names: Mapping[str, str], labels: Mapping[str, str]) -> str:
    if change.what == "field":
        assert change.ref is not None
        return (
            f'field "{labels.get(change.ref, change.ref)}" is "{change.now}", the run wrote "{change.wrote}"'
        )
    if change.what in ("lists", "tags"):
        names = list_names if change.what == "lists" else {}
        show = [names.get(x, x) for x in change.now]
        wrote = [names.get(x, x) for x in change.wrote]
        return f"{change.what} now {show}, the run wrote {wrote}"
    if change.what == "status":
        return f"status is {change.now}, the run wrote {change.wrote}"
    return f"the key is now held by contact(s) {change.now}, not {change.wrote} the run created"


def undo_document(
    result: UndoResult, list_names: Mapping[str, str], labels: Mapping[str, str], requests: Mapping[str, int]
) -> Doc:
    """``undo.json``: the plan, and with ``--yes`` what each action did."""
    plan = result.plan

    def done(key: str, kind: str) -> dict[str, str]:
        got = result.results.get((key, kind))
        return {"result": got} if got is not None else {}

    return {
        "run_id": plan.run_id,
        "structure_id": plan.structure_id,
        "policy": plan.policy,
        "applied": result.applied,
        "counts": {
            "delete": len(plan.deletes),
            "kept": len(plan.kept),
            "already_gone": len(plan.gone),
            "remove_lists": len(plan.removals),
            "updated_not_reverted": len(plan.updated),
            "already_undone": plan.done_before,
            "resumed_in_flight": len(plan.in_flight),
        },
        "requests": {
            "reads": plan.reads,
            "writes_planned": plan.writes,
            "by_endpoint": dict(sorted(requests.items())),
        },
        "delete": [{"key": a.key, "contact_id": a.contact_id, **done(a.key, a.kind)} for a in plan.deletes],
        "remove_lists": [
            {
                "key": a.key,
                "contact_id": a.contact_id,
                "lists": [{"list_id": x, "name": list_names.get(x, x)} for x in a.lists],
                **done(a.key, a.kind),
            }
            for a in plan.removals
        ],
        "kept": [
            {"key": k.key, "contact_id": k.contact_id, "changes": [c.to_dict(labels) for c in k.changes]}
            for k in plan.kept
        ],
        "already_gone": plan.gone,
        "updated_not_reverted": [
            {"key": u.key, "contact_id": u.contact_id, "before": u.before} for u in plan.updated
        ],
    }
