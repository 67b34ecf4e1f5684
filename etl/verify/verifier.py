"""``verify``: read back what a run wrote and compare it with the ledger — read-only, priced, capped.

The ledger is the source of truth for *what was intended*: each contact's plan, its outcome, whether the
run created it (``ours``), its ``_id``, and the pre-run state of the contacts that already existed (the
run's dedup index). Only contacts the run left ``created``/``updated``/``unchanged`` are checked; skipped,
failed, rejected and still-pending ones are counted, not checked. What "equal" means per policy is in
``etl.verify.compare``; how the read-back is bought, in ``etl.verify.readback``.

Target identity (``etl.verify.expected``): the base URL the run recorded, or for the embedded sandbox
the state dir; a structure the target does not know is refused too (one line, exit 2).

Verify never writes to the account (searches only) nor to the ledger (opened without the run lock, like
``status``), so it can run while another run loads, and its requests are not added to the run's counts.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl import __version__
from etl.benchmark.client import BenchmarkClient
from etl.benchmark.pacing import Pacer
from etl.benchmark.structure import structure_gone
from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.errors import ConfigError, InvalidRequest, NotFound
from etl.load.dryrun import CREATE, PATCH_ONE, PUT_ONE
from etl.load.ledger import Ledger, ledger_errors
from etl.retry import Patience
from etl.verify.compare import (
    DISCREPANCY_KINDS,
    Expected,
    Mismatch,
    Names,
    compare,
    pick,
)
from etl.verify.expected import check_target, expectations, find_run, run_names, run_policy
from etl.verify.readback import BUDGET_SHARE, ReadBack, ReadPlan, budget_plan, by_key, costs

VERIFY_SCHEMA = "bme-migrate/verify"
VERIFY_VERSION = 1  # bumped on an incompatible change of verify.json
# the run's writes: none in its request counts means the account is as its index read found it
WRITES = (CREATE, PUT_ONE, PATCH_ONE)


@dataclass(frozen=True)
class VerifyOptions:
    run: str | None = None  # run id or unique prefix; None → the most recently updated run
    sample: int | None = None  # check a seeded random sample of this many keys
    embedded: bool = False  # the target is the embedded sandbox of this state dir
    patience: Patience = field(default_factory=Patience)  # --max-outage, --wait-for-quota, --max-wait
    # what is left of a migration's --max-requests: the read-back plans within it and never sends more
    max_requests: int | None = None


@dataclass
class ListCheck:
    list_id: str
    name: str
    expected: int  # checked contacts whose plan puts them in the list
    actual: int  # of those, how many the read-back shows in it
    total_records: int | None  # members of the list in the whole account

    def to_dict(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "name": self.name,
            "expected": self.expected,
            "actual": self.actual,
            "total_records": self.total_records,
        }


@dataclass
class VerifyResult:
    run_id: str
    run_state: str
    structure_id: str
    policy: str
    plan: ReadPlan
    checked: int
    sampled: bool
    ok: int
    mismatches: list[Mismatch]
    lists: list[ListCheck]
    not_checked: dict[str, int]
    requests: dict[str, int]
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches and all(x.expected == x.actual for x in self.lists)

    def by_kind(self) -> dict[str, int]:
        counts = Counter(m.kind for m in self.mismatches)
        return {k: counts[k] for k in DISCREPANCY_KINDS if counts[k]}

    def to_dict(self) -> dict[str, Any]:
        """``verify.json`` (docs/reports.md, docs/schema/verify.schema.json)."""
        return {
            "schema": VERIFY_SCHEMA,
            "version": VERIFY_VERSION,
            "tool_version": __version__,
            "run_id": self.run_id,
            "run_state": self.run_state,
            "structure_id": self.structure_id,
            "policy": self.policy,
            "checked": self.checked,
            "sampled": self.sampled,
            "population": self.plan.population,
            "ok": self.ok,
            "clean": self.clean,
            "mismatches_by_kind": self.by_kind(),
            "mismatches": [m.to_dict() for m in self.mismatches],
            "lists": [x.to_dict() for x in self.lists],
            "not_checked": self.not_checked,
            "notes": self.notes,
            "requests": {
                "total": sum(self.requests.values()),
                "planned": self.plan.total,
                "by_endpoint": dict(sorted(self.requests.items())),
                "plan": self.plan.to_dict(),
            },
        }


# --- the verification ---------------------------------------------------------------------------------------
def verify(
    state_dir: Path,
    base_url: str,
    api_key: Secret,
    opts: VerifyOptions,
    *,
    clock: Clock | None = None,
    on_plan: Callable[[ReadPlan], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Check a run against the account; ``on_plan`` sees the request bill before the read-back spends it,
    ``on_read`` the number of the bill's requests sent so far, after each (progress for a long read-back)."""
    if opts.sample is not None and opts.sample < 1:
        raise ConfigError("--sample must be at least 1")
    with Ledger.open(state_dir, readonly=True) as ledger, ledger_errors(ledger.path):
        if ledger.empty:
            raise ConfigError(f"no runs in {state_dir}: run `bme-migrate migrate` first")
        run = find_run(ledger, opts.run)
        check_target(run, base_url, embedded=opts.embedded)
        assert run.structure_id is not None
        run_ledger = ledger.run(run.run_id)
        policy = run_policy(run_ledger, run)
        names = run_names(run_ledger)
        before = run_ledger.existing()
        population, not_checked = expectations(run_ledger, policy, before)
        page_size = run_ledger.get_meta("page_size")
        read = export_read(run_ledger.get_meta("index"))
        wrote = any(run_ledger.request_counts().get(endpoint) for endpoint in WRITES)
    if read is not None and not wrote:  # the run's export is the account as it stands: nothing to read
        return _from_export(run, policy, names, before, population, not_checked, read, int(page_size or 0))
    settled: tuple[int, list[Mismatch], list[str], list[ListCheck]] | None = None
    unchanged: list[Expected] = []
    if read is not None:  # keys the run did not write are as its export read them: read back the others
        unchanged = [e for e in population if e.outcome == "unchanged"]
        population = [e for e in population if e.outcome != "unchanged"]
        settled = _compare(list(before.values()), {}, unchanged, names)
    counts: Counter[str] = Counter()
    billed: list[int] = []  # requests sent before the bill (the probe), once the bill is known

    def counted(endpoint: str) -> None:
        counts.update((endpoint,))
        if on_read is not None and billed:
            on_read(sum(counts.values()) - billed[0])

    clock = clock or SystemClock()
    pacer = Pacer(clock, max_requests=opts.max_requests)
    with BenchmarkClient(
        base_url,
        api_key,
        clock=clock,
        pacer=pacer,
        on_request=counted,
        patience=opts.patience,
    ) as client:
        reader = ReadBack(client, run.structure_id, page_size=int(page_size) if page_size else None)
        try:
            total = reader.probe()
        except (InvalidRequest, NotFound) as exc:
            if (gone := structure_gone(exc, run.run_id, run.structure_id, base_url, "verify")) is not None:
                raise gone from None
            raise
        probe_cost = sum(counts.values())
        plan, chosen, lookups = _plan(
            population,
            before,
            opts.sample,
            run.run_id,
            reader,
            total,
            probe_cost,
            _remaining(client, opts, probe_cost),
        )
        pacer.expect(plan.reads + plan.list_counts)
        if on_plan is not None:
            on_plan(plan)
        billed.append(sum(counts.values()))
        ok, mismatches, notes, lists = _check(reader, plan, chosen, lookups, names)
    result = VerifyResult(
        run_id=run.run_id,
        run_state=run.state,
        structure_id=run.structure_id,
        policy=policy,
        plan=plan,
        checked=len(chosen),
        sampled=plan.sampled,
        ok=ok,
        mismatches=mismatches,
        lists=lists,
        not_checked=not_checked,
        requests=dict(counts),
        notes=notes,
    )
    if run.state != "complete":
        result.notes.insert(
            0,
            f"run {run.run_id} is {run.state}: only contacts it has finished are checked "
            f"({not_checked.get('pending', 0):,} still pending)",
        )
    if settled is not None:
        _merge(result, settled, len(unchanged))
    if plan.strategy == "batched":
        result.notes.append(
            "read back by KEY search: a duplicate spelled in another case shows only if the account's key "
            "search ignores case (paging the structure always shows it)"
        )
    return result


def export_read(index: str | None) -> dict[str, Any] | None:
    """The run's ``read`` record when it read the account by export (its writes all came after it: the
    index is read before the first write, so a contact the run did not write is as the export showed it)."""
    read = json.loads(index).get("read") if index else None
    return read if isinstance(read, dict) and read.get("strategy") == "export" else None


def _merge(
    result: VerifyResult, settled: tuple[int, list[Mismatch], list[str], list[ListCheck]], n: int
) -> None:
    """Add the ``n`` keys checked against the run's export to the read-back's result."""
    ok, mismatches, notes, lists = settled
    result.checked += n
    result.ok += ok
    result.mismatches = mismatches + result.mismatches
    by_id = {x.list_id: x for x in result.lists}
    for x in lists:
        if x.list_id in by_id:
            by_id[x.list_id].expected += x.expected
            by_id[x.list_id].actual += x.actual
        else:
            by_id[x.list_id] = ListCheck(x.list_id, x.name, x.expected, x.actual, None)
    result.lists = sorted(by_id.values(), key=lambda x: x.list_id)
    result.notes += [
        *notes,
        f"{n:,} key(s) the run did not write checked against the account as its export read it; only the "
        f"{result.plan.population:,} it wrote were read back",
    ]


def _from_export(
    run: Any,
    policy: str,
    names: Names,
    before: dict[str, dict[str, Any]],
    population: list[Expected],
    not_checked: dict[str, int],
    read: Mapping[str, Any],
    page_size: int,
) -> VerifyResult:
    """Check every key against the contacts the run's export held: no request at all."""
    prices = read.get("alternatives") or {}
    plan = ReadPlan(
        strategy="export",
        probe=0,
        reads=0,
        list_counts=0,
        paging_cost=int(prices.get("paging", {}).get("requests", 0)),
        batched_cost=int(prices.get("batched", {}).get("requests", 0)),
        page_size=page_size,
        structure_total=int(read.get("total") or 0),
        keys=len(population),
        population=len(population),
        sampled=False,
        remaining=None,
        reason="all keys: the run read the account by export and wrote nothing since",
    )
    ok, mismatches, notes, lists = _compare(list(before.values()), {}, population, names)
    return VerifyResult(
        run_id=run.run_id,
        run_state=run.state,
        structure_id=run.structure_id,
        policy=policy,
        plan=plan,
        checked=len(population),
        sampled=False,
        ok=ok,
        mismatches=mismatches,
        lists=lists,
        not_checked=not_checked,
        requests={},
        notes=[
            *notes,
            "checked against the account as the run's export read it (the run wrote nothing since): "
            "no request sent",
        ],
    )


def _lookups(chosen: Sequence[Expected], before: dict[str, dict[str, Any]]) -> list[str]:
    """Our keys, plus the spelling an already existing contact had (its key may not be lower-case)."""
    out = [e.key for e in chosen]
    out += [
        str(before[e.key]["key"]) for e in chosen if e.key in before and before[e.key].get("key") != e.key
    ]
    return list(dict.fromkeys(out))


def _plan(
    population: list[Expected],
    before: dict[str, dict[str, Any]],
    sample: int | None,
    run_id: str,
    reader: ReadBack,
    total: int,
    probe_cost: int,
    remaining: int | None,
) -> tuple[ReadPlan, list[Expected], list[str]]:
    list_ids = sorted({lid for e in population for lid in e.lists})
    all_lookups = _lookups(population, before)
    per_key = len(all_lookups) / len(population) if population else 1.0
    n, sampled, reason = budget_plan(
        population=len(population),
        lookups_per_key=per_key,
        total=total,
        first_page=len(reader.first),
        page_size=reader.page_size,
        lists=len(list_ids),
        remaining=remaining,
        sample=sample,
    )
    chosen = population
    if n < len(population):
        picked = set(random.Random(run_id).sample(range(len(population)), n))  # seeded: re-runs agree
        chosen = [e for i, e in enumerate(population) if i in picked]
    lookups = _lookups(chosen, before)
    chosen_lists = sorted({lid for e in chosen for lid in e.lists})
    paging, batched = costs(total, len(reader.first), reader.page_size, len(lookups), len(chosen_lists))
    strategy = "paging" if paging <= batched else "batched"
    plan = ReadPlan(
        strategy=strategy,
        probe=probe_cost,
        reads=paging if strategy == "paging" else batched - len(chosen_lists),
        list_counts=0 if strategy == "paging" else len(chosen_lists),
        paging_cost=paging,
        batched_cost=batched,
        page_size=reader.page_size,
        structure_total=total,
        keys=len(chosen),
        population=len(population),
        sampled=sampled,
        remaining=remaining,
        reason=reason,
    )
    return plan, chosen, lookups


def _check(
    reader: ReadBack, plan: ReadPlan, chosen: list[Expected], lookups: list[str], names: Names
) -> tuple[int, list[Mismatch], list[str], list[ListCheck]]:
    """Read back (as planned), compare every chosen key, count list members: (ok, mismatches, notes, lists)."""
    list_ids = sorted({lid for e in chosen for lid in e.lists})
    totals: dict[str, int] = {}
    if plan.strategy == "paging":
        docs = reader.page_all()
        for lid in list_ids:  # the whole structure is at hand: no LIST_ID search needed
            totals[lid] = sum(1 for d in docs if lid in (d.get("lists") or ()))
    else:
        docs = reader.search_keys(lookups)
        for lid in list_ids:
            totals[lid] = reader.list_total(lid)
    return _compare(docs, totals, chosen, names)


def _compare(
    docs: Sequence[Mapping[str, Any]], totals: Mapping[str, int], chosen: list[Expected], names: Names
) -> tuple[int, list[Mismatch], list[str], list[ListCheck]]:
    """Compare every chosen key with the account's ``docs``; ``totals``: list sizes when known."""
    list_ids = sorted({lid for e in chosen for lid in e.lists})
    wanted = {e.key for e in chosen}
    found = {k: v for k, v in by_key(docs).items() if k in wanted}
    mismatches: list[Mismatch] = []
    notes: list[str] = []
    ok = 0
    members: Counter[str] = Counter()
    for exp in chosen:
        group = found.get(exp.key, [])
        bad, said = compare(exp, group, names)
        mismatches += bad
        notes += said
        ok += not bad
        if group:
            have = set(pick(group, exp).get("lists") or ())
            members.update(lid for lid in exp.lists if lid in have)
    lists = [
        ListCheck(
            lid, names.list(lid), sum(1 for e in chosen if lid in e.lists), members[lid], totals.get(lid)
        )
        for lid in list_ids
    ]
    return ok, mismatches, notes, lists


def _remaining(client: BenchmarkClient, opts: VerifyOptions, spent: int) -> int | None:
    """The hourly requests left as the read plan sees them: within a migration's --max-requests, what the cap
    leaves counts as the whole share the plan may spend (it spends 1/BUDGET_SHARE of what it is given)."""
    remaining = client.rate.remaining
    if opts.max_requests is None:
        return remaining
    capped = max(0, opts.max_requests - spent) * BUDGET_SHARE
    return capped if remaining is None else min(remaining, capped)
