"""The load state machine: each planned contact reaches the account exactly once, at ~1 request each.

Per contact (states in the ledger)::

    planned ──intent──▶ in_flight ──response──▶ status_pending ──intent/PATCH──▶ done
                                  └────────────────────────────────────────────▶ done

- new key → ``POST /api/contact`` (status included when non-Active, until the server shows it ignores or
  rejects a status on create; then create + PATCH). The create response is checked: an ignored status or
  ignored tags are fixed at once (PATCH / PUT), and ``status_pending`` guarantees a resume finishes them.
- existing key → ``decide`` (policy ``on_existing``): nothing, a PATCH, or GET + PUT (one retry on
  ``ConcurrencyError``), PATCH last.
- a key an earlier run of this state dir wrote (to the same target) → ``decide`` with ``three_way`` against
  that run's plan (the cut-over delta): only what the source changed since is written, fields edited in
  Benchmark since are conflicts (recorded in the ledger's ``changes``), and the PUT of a contact whose
  ``__v`` we left is sent without a GET (a ``ConcurrencyError`` means someone wrote since: GET and retry).
- ``DuplicateFieldError`` on create → the key exists: resolve its ``_id`` by search (paging once if the
  search missed it, e.g. case-sensitive EQ), never create twice; if an attempt of ours may have applied,
  the contact counts as created.

Crash points: before the intent commit nothing was sent; after it the key is ``in_flight`` and is searched
on resume before anything is re-sent (found → reconciled as ours, not found → created); a write whose
response was lost is therefore never repeated blindly. A stop before a write could apply (monthly quota,
``--max-requests``, a 5xx storm, auth) reverts its intent — unless something of that contact may already be
in the account (our create answered, or an attempt went unanswered): then it stays in flight, marked ours,
and the resume searches it (tested: the monthly quota refusing the status PATCH right after a create).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from etl.benchmark.client import BenchmarkClient, DuplicateKey, InvalidRequest, StaleVersion
from etl.benchmark.pacing import Pacer
from etl.errors import AuthError, Paused, RecordRejected, RetriableLoadError
from etl.load.accounts import AccountNotes
from etl.load.decide import THREE_WAY, Decision, decide, put_body
from etl.load.index import EXPORT_TIMEOUT, IndexBuilder, compact
from etl.load.ledger import DONE, IN_FLIGHT, PLANNED, STATUS_PENDING, ContactRow, RunLedger
from etl.mapping.transform import plan_keys
from etl.model import BME_INACTIVE, Outcome, PlannedContact

UNKNOWN, HONOURED, IGNORED, REJECTED = "unknown", "honoured", "ignored", "rejected"
# Creates whose intents are committed together: one ledger commit per this many new contacts instead of
# two per contact; a kill leaves at most this many in flight, found again by one batched search.
INTENT_BATCH = 20


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadSummary:
    run_id: str
    state: str  # complete | paused
    contacts: dict[str, int]
    rows: dict[str, int]
    requests: dict[str, int]
    reason: str | None = None
    resume_after: str | None = None
    index_strategy: str | None = None


class Loader:
    def __init__(
        self,
        client: BenchmarkClient,
        ledger: RunLedger,
        structure_id: str,
        *,
        on_existing: str = "merge",
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        variants: Mapping[str, Sequence[str]] | None = None,
        on_conflict: str = "target",
        index_strategy: str = "auto",
        notes: AccountNotes | None = None,
        export_timeout: float = EXPORT_TIMEOUT,
        on_note: Callable[[str], None] | None = None,
        target: str | None = None,
    ) -> None:
        self.client = client
        self.on_note = on_note  # told once why the export was not used (stderr and events)
        self.ledger = ledger  # this run's part of the ledger
        self.run_id = ledger.run_id
        self.structure_id = structure_id
        self.policy = on_existing
        self.on_conflict = on_conflict
        # key → (what an earlier run of this state dir wrote, the __v it left): the delta's base
        self.bases: dict[str, tuple[PlannedContact, int | None]] = {}
        self._version: int | None = None  # __v in the answer to the current contact's last write
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.variants = variants
        self.index: dict[str, dict[str, Any]] = {}
        self.builder = IndexBuilder(
            client,
            structure_id,
            strategy=index_strategy,
            notes=notes,
            export_timeout=export_timeout,
            target=target,
        )
        self.progress = Progress()
        self._current: str | None = None  # key with an uncommitted-outcome write
        self._dirty = False  # the current intent's write was answered or may have applied
        self._ours = False  # this run created the current contact (not yet committed)
        self._paged = False
        self._modes: dict[str, str] = {}
        self.strategy: str | None = None
        self._pre: set[str] = set()  # creates committed in flight with a batch, not sent yet

    # --- learned server behaviour, kept in the ledger so a resume does not re-learn it -------------------
    def _mode(self, name: str) -> str:
        if name not in self._modes:
            self._modes[name] = self.ledger.get_meta(name) or UNKNOWN
        return self._modes[name]

    def _learn(self, name: str, value: str) -> None:
        if self._mode(name) != value:
            self.ledger.set_meta(name, value)
            self._modes[name] = value

    # --- the run -----------------------------------------------------------------------------------------
    def run(self, plans: Sequence[PlannedContact] | None) -> LoadSummary:
        """Load ``plans`` (stored in the ledger first, once); ``None``: the run's plan is already stored
        (a resume that starts writing before it has read its sources again)."""
        # the plan is stored a chunk ahead of the writes, not all before the first (``store_plan``)
        storing = iter(()) if plans is None else self.ledger.store_plan(plans)
        next(storing, None)
        info = self.ledger.info()
        if info is not None and info.state == "complete":
            return self.summary("complete")
        if self.ledger.get_meta("on_existing") != self.policy:
            self.ledger.set_meta("on_existing", self.policy)  # read back by `verify`
        if self.ledger.get_meta("on_conflict") != self.on_conflict:
            self.ledger.set_meta("on_conflict", self.on_conflict)
        self.bases = self.ledger.bases()
        try:
            self._load_index(plans)
            self._resolve_in_flight()
            self.progress.done, total, self.progress.counts = self.ledger.progress()
            # the plan's size, stored or not yet; none given: all of it is stored
            self.progress.total = total if plans is None else len(plans)
            todo = self.ledger.count_contacts([STATUS_PENDING, PLANNED]) + self.progress.total - total
            if isinstance(self.client.pacer, Pacer):
                # ~1 request per contact, +10% for status fix-ups: lets a run that fits the window skip pacing
                self.client.pacer.expect(todo + todo // 10)
            rows = self.ledger.iter_contacts([STATUS_PENDING, PLANNED], more=storing)
            ahead: deque[ContactRow] = deque()
            while (row := ahead.popleft() if ahead else next(rows, None)) is not None:
                if self.should_stop():
                    raise Paused("interrupted; run the same command again to resume")
                if self._creates(row) and row.plan.key not in self._pre:
                    self._intend_creates(row, ahead, rows)
                self._process(row)
        except Paused as exc:
            self._abandon(storing)
            self.ledger.set_state("paused", reason=str(exc), resume_after=exc.resume_after)
            raise
        except RetriableLoadError as exc:
            self._abandon(storing)
            reason = f"the target keeps failing ({exc}); run the same command again to resume"
            self.ledger.set_state("paused", reason=reason)
            raise Paused(reason) from None
        except AuthError as exc:
            self._abandon(storing)
            self.ledger.set_state("failed", reason=str(exc))
            raise
        self.ledger.set_state("complete")
        return self.summary("complete")

    def summary(self, state: str) -> LoadSummary:
        self.ledger.flush()
        info = self.ledger.info()
        return LoadSummary(
            self.run_id,
            state,
            self.ledger.contact_totals(),
            self.ledger.row_totals(),
            self.ledger.request_counts(),
            info.pause_reason if info else None,
            info.resume_after if info else None,
            self.strategy or self.ledger.get_meta("index_strategy"),
        )

    def _creates(self, row: ContactRow) -> bool:
        """Will this row be a create (a planned contact the index does not know)?"""
        return row.state == PLANNED and row.plan.key not in self.index

    def _intend_creates(self, row: ContactRow, ahead: deque[ContactRow], rows: Iterator[ContactRow]) -> None:
        """Commit ``row``'s create intent with those of the next creates (up to ``INTENT_BATCH``): one ledger
        commit for the batch. Rows read ahead to find them wait in ``ahead``, in order."""
        keys = [row.plan.key]
        scanned = 0
        while len(keys) < INTENT_BATCH and scanned < 2 * INTENT_BATCH:
            if scanned == len(ahead):
                nxt = next(rows, None)
                if nxt is None:
                    break
                ahead.append(nxt)
            candidate = ahead[scanned]
            scanned += 1
            if self._creates(candidate) and candidate.plan.key not in keys:
                keys.append(candidate.plan.key)
        self.ledger.intents(keys, "create")
        self._pre.update(keys)

    def _abandon(self, storing: Iterator[int]) -> None:
        """A write that certainly did not apply goes back to where it was; an ambiguous one stays in flight.
        The rest of the plan is stored: the report counts every row, and a resume starts from the ledger."""
        for key in sorted(self._pre - {self._current}):  # committed in flight with a batch, never sent
            self.ledger.revert_intent(key)
        self._pre.clear()
        if self._current is not None:
            if self._dirty or self._ours or self.client.ambiguous:
                # something of this contact may be in the account: stay in flight, resume searches it first
                if self._ours:
                    self.ledger.mark_ours(self._current)
            else:
                self.ledger.revert_intent(self._current)
        self._current = None
        self.ledger.flush()
        for _ in storing:
            pass

    def _load_index(self, plans: Sequence[PlannedContact] | None) -> None:
        """The dedup index: read once per run and kept in the ledger, so a resume reads it from there."""
        if self.ledger.get_meta("index_strategy") is not None:
            self.index = self.ledger.existing()
            size = self.ledger.get_meta("page_size")
            self.builder.page_size = int(size) if size else None
            return
        # every key of the plan, stored or not yet (``store_plan``); from the ledger when the plan is not
        # at hand: not from plans built as read, which would be built twice
        keys = self.ledger.keys() if plans is None else plan_keys(plans)
        result = self.builder.build(keys, self.variants)
        self.index = result.docs
        if result.docs:  # (a set of a million keys only when the account holds some contact)
            wanted = set(keys)
            self.ledger.save_existing(((k, d) for k, d in result.docs.items() if k in wanted))
        self.ledger.set_meta("page_size", str(result.page_size))
        self.ledger.set_meta("index_strategy", result.strategy)
        self.ledger.set_meta(
            "index",
            json.dumps(
                {
                    "strategy": result.strategy,
                    "requests": result.requests,
                    "page_size": result.page_size,
                    "existing_total": result.total,
                    "read": result.read_section(),
                }
            ),
        )
        self.strategy = result.strategy
        if result.fallback and self.on_note is not None:
            self.on_note(result.fallback)

    def _resolve_in_flight(self) -> None:
        """Keys left ``in_flight`` by a crash: search them before anything is re-sent."""
        rows = self.ledger.contacts([IN_FLIGHT])
        if not rows:
            return
        found = self.builder.search_keys([r.plan.key for r in rows])
        self.ledger.save_existing((r.plan.key, found[r.plan.key]) for r in rows if r.plan.key in found)
        for r in rows:
            doc = found.get(r.plan.key)
            if doc is not None:
                self.index[r.plan.key] = doc
                # Found after our create may have applied: it is ours. A put/patch target stays as it was.
                self.ledger.settle(
                    r.plan.key,
                    state=PLANNED,
                    contact_id=doc["_id"],
                    ours=r.ours or r.op == "create",
                    # an update of someone else's contact may have landed: remember we touched it
                    outcome=Outcome.UPDATED.value if r.op in ("put", "patch") and not r.ours else None,
                )
            elif r.op == "create":
                self.index.pop(r.plan.key, None)
                self.ledger.settle(r.plan.key, state=PLANNED)
            else:
                self._settle_done(
                    r.plan, Outcome.FAILED, error="contact disappeared from the account mid-update"
                )

    # --- one contact -------------------------------------------------------------------------------------
    def _intent(self, key: str, op: str, *, ours: bool = False) -> None:
        if op == "create" and key in self._pre:
            self._pre.discard(key)  # committed with its batch (``_intend_creates``)
        else:
            self.ledger.intent(key, op, ours=ours)
        self._current = key
        self._dirty = False
        self._ours = self._ours or ours

    def _settle_done(
        self,
        plan: PlannedContact,
        outcome: Outcome,
        *,
        contact_id: str | None = None,
        error: str | None = None,
        ours: bool | None = None,
    ) -> None:
        self.ledger.settle(
            plan.key,
            state=DONE,
            outcome=outcome.value,
            contact_id=contact_id,
            error=error,
            ours=ours,
            version=self._version,
        )
        self._version = None
        self._current = None
        self.progress.done += 1
        self.progress.counts[outcome.value] = self.progress.counts.get(outcome.value, 0) + 1
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def _process(self, row: ContactRow) -> None:
        plan = row.plan
        self._ours = row.ours
        self._version = None
        try:
            if row.state == STATUS_PENDING:
                assert row.contact_id is not None
                self._patch(plan, row.contact_id, Outcome(row.outcome or Outcome.UPDATED.value))
                return
            doc = self.index.get(plan.key)
            if doc is None:
                self._create(plan, ours=row.ours)
            else:
                self._reconcile(plan, doc, ours=row.ours, touched=row.outcome == Outcome.UPDATED.value)
        except RecordRejected as exc:
            self._settle_done(plan, Outcome.FAILED, error=f"{exc.error_type or 'rejected'}: {exc}")

    def _create(self, plan: PlannedContact, *, ours: bool = False, retry: bool = True) -> None:
        status_mode, tags_mode = self._mode("status_on_create"), self._mode("tags_on_create")
        send_status = plan.status == BME_INACTIVE and status_mode in (UNKNOWN, HONOURED)
        send_tags = bool(plan.tags) and tags_mode != REJECTED
        self._intent(plan.key, "create")
        try:
            created = self.client.create_contact(
                plan.create_body(self.structure_id, with_status=send_status, with_tags=send_tags)
            )
        except DuplicateKey as exc:
            self._dirty = True
            self._ours = self._ours or exc.ambiguous
            self._after_duplicate(plan, ours=ours or exc.ambiguous)
            return
        except InvalidRequest as exc:
            rejected = None
            if send_status and exc.field == "status":
                rejected = "status_on_create"
            elif send_tags and exc.field == "tags" and exc.field_id is None:
                rejected = "tags_on_create"
            if rejected is None or not retry:
                raise
            self.ledger.revert_intent(plan.key)
            self._learn(rejected, REJECTED)
            self._create(plan, ours=ours, retry=False)
            return
        self._dirty = self._ours = True
        self._seen(created)
        doc = compact(created)
        if send_status:
            self._learn("status_on_create", HONOURED if doc["status"] == BME_INACTIVE else IGNORED)
        if send_tags:
            self._learn("tags_on_create", HONOURED if set(plan.tags) <= set(doc["tags"]) else IGNORED)
        self.index[plan.key] = doc
        self._reconcile(plan, doc, ours=True, fresh=created)

    def _after_duplicate(self, plan: PlannedContact, *, ours: bool) -> None:
        """The account has this key although the index did not (or our lost create applied): find it."""
        doc = self.builder.search_keys([plan.key, *(self.variants or {}).get(plan.key, ())]).get(plan.key)
        if doc is None and not self._paged:
            self._paged = True  # case-sensitive EQ hid it: learn the whole structure once
            total, first = self.builder.probe()
            self.index.update(self.builder.page_all(total, first))
            doc = self.index.get(plan.key)
        if doc is None:
            raise RecordRejected(
                "the account reports this key as a duplicate but search cannot find it",
                error_type="DuplicateFieldError",
            )
        self.index[plan.key] = doc
        self._reconcile(plan, doc, ours=ours)

    def _reconcile(
        self,
        plan: PlannedContact,
        doc: dict[str, Any],
        *,
        ours: bool,
        fresh: dict[str, Any] | None = None,
        touched: bool = False,
    ) -> None:
        base = None if ours else self.bases.get(plan.key)
        policy = "merge" if ours else THREE_WAY if base is not None else self.policy
        decision = decide(
            plan,
            doc,
            policy,
            ours=ours,
            base=base[0] if base else None,
            on_conflict=self.on_conflict,
        )
        if touched and decision.outcome == Outcome.UNCHANGED:  # our update landed just before a crash
            decision = replace(decision, outcome=Outcome.UPDATED)
        cid = doc["_id"]
        if base is not None:
            self._record_delta(plan, decision, base[0])
            if fresh is None and base[1] is not None:
                fresh = _as_read(doc, base[1], self.structure_id)  # nobody wrote since? the PUT will tell
        if decision.put:
            self._put(plan, cid, policy, fresh, ours=ours, base=base[0] if base else None)
        if decision.patch:
            self.ledger.settle(
                plan.key,
                state=STATUS_PENDING,
                outcome=decision.outcome.value,
                contact_id=cid,
                ours=ours,
            )
            self._current = None
            self._patch(plan, cid, decision.outcome, ours=ours)
            return
        self._settle_done(plan, decision.outcome, contact_id=cid, ours=ours)

    def _record_delta(self, plan: PlannedContact, decision: Decision, base: PlannedContact) -> None:
        """The delta's findings for one key, in the ledger before its write (a resume replaces them)."""
        was = dict(base.fields)
        source = dict(plan.fields)
        changes: list[tuple[str, str, str | None, str | None, str | None]] = [
            ("updated", fid, source.get(fid), None, was.get(fid)) for fid in decision.updated
        ]
        changes += [("conflict", c.field, c.source, c.target, c.base) for c in decision.conflicts]
        if decision.patch:
            changes.append(("unsubscribed", "", plan.status, None, base.status))
        if changes:
            self.ledger.record_changes(plan.key, changes)

    def _seen(self, answer: Mapping[str, Any]) -> None:
        """Remember the ``__v`` a write's answer carries (the next run's PUT of this contact needs no GET)."""
        version = answer.get("__v") if isinstance(answer, Mapping) else None
        if isinstance(version, int) and not isinstance(version, bool):
            self._version = version

    def _put(
        self,
        plan: PlannedContact,
        cid: str,
        policy: str,
        fresh: dict[str, Any] | None,
        *,
        ours: bool,
        base: PlannedContact | None = None,
    ) -> None:
        """GET for ``__v`` (skipped when a fresh document is at hand), PUT the merge; one retry if stale."""
        self._intent(plan.key, "put", ours=ours)
        for attempt in (1, 2):
            current = fresh if fresh is not None and attempt == 1 else self.client.get_contact(cid)
            body = put_body(plan, current, policy, base=base, on_conflict=self.on_conflict)
            if body is None:
                return
            try:
                self._seen(self.client.put_contact(cid, body))
                self._dirty = True
                return
            except StaleVersion:
                self._dirty = self._dirty or self.client.ambiguous  # an earlier attempt may have landed
                if attempt == 2:
                    raise

    def _patch(self, plan: PlannedContact, cid: str, outcome: Outcome, *, ours: bool = False) -> None:
        self._intent(plan.key, "patch", ours=ours or outcome == Outcome.CREATED)
        self._seen(self.client.patch_status(cid, plan.status_body()))
        self._settle_done(plan, outcome, contact_id=cid)


def _as_read(doc: Mapping[str, Any], version: int, structure_id: str) -> dict[str, Any]:
    """An index document as a ``GET`` would answer it, with the ``__v`` our last write left: what the PUT
    of the delta sends without a GET. A stale guess costs one ``ConcurrencyError``, then GET and retry."""
    read: dict[str, Any] = {
        "_id": doc["_id"],
        "key": doc["key"],
        "contactStructureId": structure_id,
        "fields": [{"_id": fid, "value": value} for fid, value in (doc.get("fields") or {}).items()],
        "lists": [{"_id": x} for x in doc.get("lists") or []],
        "tags": [{"_id": x} for x in doc.get("tags") or []],
        "__v": version,
    }
    if doc.get("status"):  # carried over by the PUT, which never changes consent
        read["status"] = {"primary": doc["status"]}
        if doc.get("secondary"):
            read["status"]["secondary"] = doc["secondary"]
    return read
