"""``migrate --dry-run``: the real run's outcome split and request bill, exactly, writing nothing.

It builds the same dedup index the load would (read-only searches, the same keys and raw-case variants,
priced the same way) and runs the same ``decide`` policy, so its numbers are the load's numbers: the
contacts' split, the rows' split (each contact's outcome for every row merged into it, plus the rows
validate and mapping rejected or skipped, as the real run's ``totals``) and the requests by endpoint
(resolution's reads and writes, the index, then the writes ``decide`` asks for). What it cannot know
before the first create is whether the account honours a status (and tags) on create; the bill assumes it
does and says what it costs if not. Nor can a read see a key the account holds in a letter case no export
spelling matches when the index is built by (case-sensitive) batched searches: the real run meets it as a
``DuplicateFieldError`` and updates it. docs/loading.md "What the dry run promises" says so for users.

Fields, lists and tags the flags would create are *simulated* (``SimulatedWrites``): the mapping's structure
PUT and list POSTs are answered locally with placeholder ids, so the plan is exact without a write — a
placeholder id matches no existing contact's field, so existing contacts correctly show as updates.

A contact an earlier run of the state dir wrote (``bases``, from ``Ledger.written``) is priced by the
load's three-way merge, its PUT without a GET when the ledger kept the ``__v`` of that write.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from etl.benchmark.client import BenchmarkClient
from etl.load.accounts import AccountNotes
from etl.load.decide import THREE_WAY, decide
from etl.load.index import EXPORT_TIMEOUT, IndexBuilder
from etl.mapping.transform import plan_keys
from etl.model import BME_INACTIVE, PlannedContact

# The load's write endpoints, as ``BenchmarkClient`` names them (``on_request``): the bill's by-endpoint keys
# equal the real run's ``requests.by_endpoint``.
CREATE = "POST /api/contact"
GET_ONE = "GET /api/contact/{contactId}"
PUT_ONE = "PUT /api/contact/{contactId}"
PATCH_ONE = "PATCH /api/contact/{contactId}"
SEARCH = "POST /api/contact/search"
ROW_OUTCOMES = ("created", "updated", "unchanged", "skipped", "rejected", "failed", "pending")


@dataclass(frozen=True)
class DryRunPlan:
    contacts: dict[str, int]  # created / updated / unchanged / skipped (what *would* happen)
    # setup (resolution's reads and writes), index, create, put (GET + PUT), status_patch
    requests: dict[str, int]
    total_requests: int
    if_status_ignored: int  # extra PATCHes if the account ignores status on create
    index_strategy: str
    existing_in_account: int
    hourly_limit: int
    monthly_remaining: int | None
    hours: float
    fits_this_period: bool | None
    would_create: dict[str, list[str]] = field(default_factory=dict)  # fields/lists/tags the flags create
    # per source row, as the real run's report ``totals``: every outcome, rejected and skipped upstream too
    rows: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, int] = field(default_factory=dict)  # as the real run's ``requests.by_endpoint``
    if_tags_ignored: int = 0  # extra PUTs if the account drops tags on create
    # how the account is read, at what price, next to the other ways' (IndexResult.read_section)
    read: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SimulatedWrites(httpx.BaseTransport):
    """Reads go to the account; the mapping's writes (structure PUT, list POST) are answered locally.

    ``created`` records what would be created, by kind. Anything else that is not a read is refused, so a
    dry run can never write by accident.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.created: dict[str, list[str]] = {"fields": [], "lists": [], "tags": []}
        self._ids = (f"d{n:023x}" for n in itertools.count(1))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" or path.endswith("/api/contact/search"):
            return self.inner.handle_request(request)
        body = json.loads(request.read() or b"{}")
        if request.method == "PUT" and "/api/contact-structure/" in path and not path.endswith("/lists"):
            for kind in ("fields", "tags"):
                for item in body.get(kind, []):
                    if "_id" not in item:
                        item["_id"] = next(self._ids)
                        self.created[kind].append(str(item.get("label")))
            body["_id"] = path.rsplit("/", 1)[-1]
            body["__v"] = int(body.get("__v", 0)) + 1
            return httpx.Response(200, json=body, request=request)
        if request.method == "POST" and path.endswith("/lists"):
            self.created["lists"].append(str(body.get("name")))
            doc = {"_id": next(self._ids), "name": body.get("name"), "type": "static"}
            return httpx.Response(201, json=doc, request=request)
        raise httpx.UnsupportedProtocol(f"dry run: refusing to send {request.method} {path}", request=request)

    def close(self) -> None:
        self.inner.close()


def dry_run(
    client: BenchmarkClient,
    structure_id: str,
    plans: Sequence[PlannedContact],
    *,
    policy: str = "merge",
    reserve: int = 0,
    would_create: dict[str, list[str]] | None = None,
    variants: Mapping[str, Sequence[str]] | None = None,
    sent: Counter[str] | None = None,
    upstream: Mapping[str, int] | None = None,
    bases: dict[str, tuple[PlannedContact, int | None]] | None = None,
    on_conflict: str = "target",
    index_strategy: str = "auto",
    notes: AccountNotes | None = None,
    target: str | None = None,
    export_timeout: float = EXPORT_TIMEOUT,
) -> DryRunPlan:
    """The plan of the load ``plans`` would get: decided against an index built as the loader builds it.

    ``variants``: the raw spellings of the keys (as the real run passes them to the index: the batched
    search's price depends on them). ``sent``: the counter ``client``'s ``on_request`` feeds, holding what
    resolution already sent (simulated writes included: the real run sends them), so the bill is every
    request of the run by endpoint; without it only the index and the writes are billed. ``upstream``: the
    rows that never reach the load, by outcome (validate's and mapping's rejects, mapping's skips).
    ``index_strategy``, ``notes`` and ``export_timeout`` as the real run's: the dry run reads the account
    the way it would (an export probe included) and a verdict it finds is the real run's too.
    """
    counted: Counter[str] = sent if sent is not None else Counter()
    setup = sum(counted.values())
    builder = IndexBuilder(
        client,
        structure_id,
        strategy=index_strategy,
        notes=notes,
        export_timeout=export_timeout,
        target=target,
    )
    index = builder.build(plan_keys(plans), variants)
    if sent is None:  # nothing fed the counter: the index's searches, as the pager counted them
        counted[SEARCH] += index.requests
    index_requests = sum(counted.values()) - setup
    outcomes: Counter[str] = Counter()
    rows: Counter[str] = Counter({k: 0 for k in ROW_OUTCOMES})
    rows.update(upstream or {})
    writes: Counter[str] = Counter()
    new_inactive = new_tagged = 0
    for plan in plans:
        doc = index.docs.get(plan.key)
        base = (bases or {}).get(plan.key) if doc is not None else None
        if base is not None:
            d = decide(plan, doc, THREE_WAY, base=base[0], on_conflict=on_conflict)
            known_v = d.put and base[1] is not None  # the ledger kept its __v: the PUT needs no GET
        else:
            d = decide(plan, doc, policy)
            known_v = False
        outcomes[d.outcome.value] += 1
        rows[d.outcome.value] += len(plan.row_ids)
        writes[CREATE] += d.create
        writes[GET_ONE] += d.put and not known_v
        writes[PUT_ONE] += d.put
        writes[PATCH_ONE] += d.patch
        new_inactive += d.create and plan.status == BME_INACTIVE
        new_tagged += d.create and bool(plan.tags)
    requests = {
        "setup": setup,
        "index": index_requests,
        "create": writes[CREATE],
        "put": writes[GET_ONE] + writes[PUT_ONE],
        "status_patch": writes[PATCH_ONE],
    }
    by_endpoint = counted + writes  # ``+`` drops zero counts: the ledger has no row for an unused endpoint
    total = sum(requests.values())
    assert total == sum(by_endpoint.values()), "the bill's phases and endpoints disagree"
    limit = client.rate.limit or 3600
    monthly = client.rate.monthly_remaining
    per_hour = max(1, limit - reserve)
    return DryRunPlan(
        dict(outcomes),
        requests,
        total,
        new_inactive,
        index.strategy,
        index.total,
        limit,
        monthly,
        round(total / per_hour, 2),
        None if monthly is None else total + new_inactive <= monthly,
        {k: v for k, v in (would_create or {}).items() if v},
        dict(rows),
        dict(sorted(by_endpoint.items())),
        new_tagged,
        index.read_section(),
    )


def read_lines(read: Mapping[str, Any] | None) -> list[str]:
    """The read's price next to the alternatives', and why the export was not used (when it was not)."""
    if not read or not read.get("alternatives"):
        return []
    others = ", ".join(f"{k} {v['requests']:,} ({v['hours']:.2f} h)" for k, v in read["alternatives"].items())
    lines = [
        f"reading the account: {read['strategy']}, {read['requests']:,} requests ({read['hours']:.2f} h); "
        f"after the probe, {others}"
    ]
    if read.get("export_fallback"):
        lines.append(f"  {read['export_fallback']}")
    return lines


def dry_run_lines(plan: DryRunPlan) -> list[str]:
    c = plan.contacts
    lines = [
        "dry run (nothing written): "
        + ", ".join(f"{k} {c.get(k, 0):,}" for k in ("created", "updated", "unchanged", "skipped")),
        f"account: {plan.existing_in_account:,} contacts in the structure; index by {plan.index_strategy}",
        *read_lines(plan.read),
        "requests: "
        + " + ".join(f"{k} {v:,}" for k, v in plan.requests.items())
        + f" = {plan.total_requests:,} (≈ {plan.hours:.2f} h at {plan.hourly_limit:,}/h)",
    ]
    for kind, names in plan.would_create.items():
        lines.append(
            f"would create {len(names)} {kind}: "
            + ", ".join(repr(n) for n in names[:10])
            + (", …" if len(names) > 10 else "")
        )
    if plan.if_status_ignored:
        lines.append(
            f"  +{plan.if_status_ignored:,} status PATCHes if the account ignores a status on create"
        )
    if plan.if_tags_ignored:
        lines.append(f"  +{plan.if_tags_ignored:,} PUTs if the account drops the tags of a create")
    if plan.monthly_remaining is not None:
        verdict = "fits" if plan.fits_this_period else "does NOT fit"
        lines.append(
            f"monthly quota: {plan.monthly_remaining:,} requests left; this migration {verdict}"
            + (
                ""
                if plan.fits_this_period
                else f" — it will pause after ~{plan.monthly_remaining:,}"
                " requests and resume when the period resets"
            )
        )
    return lines
