"""Reading a run's contacts back from the account, priced before anything but one probe is spent.

Two ways, as for the load's dedup index (``etl.load.index``), and the cheaper one wins:

- **paging** the whole structure at the largest accepted ``pageSize``: ``ceil(total / size) − 1`` requests
  after the probe page; it sees every spelling of every key, so case-variant duplicates always show, and
  per-list totals come out of the same pages for free;
- **batched** OR-ed ``KEY``/``EQ`` groups of the keys to check (plus the spelling an already existing
  contact had, from the run's index): ``ceil(lookups / size)`` requests, plus one ``LIST_ID`` search per
  list for its ``totalRecords``. A case-variant duplicate shows only if the server's EQ ignores case.

``budget_plan`` decides how many keys to check: all of them when the plan fits in a tenth of the hourly
requests left (learned from the probe's ``X-RateLimit-Remaining``), else a sample sized to fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl.benchmark.client import BenchmarkClient, InvalidRequest
from etl.load.index import SOURCE, IndexBuilder, compact
from etl.mailbox import mailbox_key

BUDGET_SHARE = 10  # verify spends at most 1/10 of the hourly requests left unless --sample says otherwise

Doc = dict[str, Any]


@dataclass(frozen=True)
class ReadPlan:
    """The request bill, printed before the read-back starts (the probe is already spent)."""

    strategy: str  # "paging" | "batched"
    probe: int  # requests the probe took (more than one when the server refused a page size)
    reads: int  # further search requests of the read-back
    list_counts: int  # LIST_ID searches for per-list totals (0 when paging gives them)
    paging_cost: int
    batched_cost: int
    page_size: int
    structure_total: int  # contacts in the structure (the probe's totalRecords)
    keys: int  # keys to check
    population: int  # keys the run left created/updated/unchanged
    sampled: bool
    remaining: int | None  # X-RateLimit-Remaining after the probe (None: the server did not say)
    reason: str  # why this many keys

    @property
    def total(self) -> int:
        return self.probe + self.reads + self.list_counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "probe": self.probe,
            "reads": self.reads,
            "list_counts": self.list_counts,
            "total": self.total,
            "paging_cost": self.paging_cost,
            "batched_cost": self.batched_cost,
            "page_size": self.page_size,
            "structure_total": self.structure_total,
            "keys": self.keys,
            "population": self.population,
            "sampled": self.sampled,
            "hourly_remaining": self.remaining,
            "reason": self.reason,
        }


def costs(total: int, first_page: int, page_size: int, lookups: int, lists: int) -> tuple[int, int]:
    """(paging, batched) requests after the probe, list totals included."""
    paging = 0 if total <= first_page else math.ceil(total / page_size) - 1
    batched = math.ceil(lookups / page_size) + lists
    return paging, batched


def budget_plan(
    *,
    population: int,
    lookups_per_key: float,
    total: int,
    first_page: int,
    page_size: int,
    lists: int,
    remaining: int | None,
    sample: int | None,
) -> tuple[int, bool, str]:
    """How many keys to check: (keys, sampled, reason). ``sample`` is the user's ``--sample N``."""
    if sample is not None:
        n = min(sample, population)
        return n, n < population, f"--sample {sample}"
    paging, batched = costs(total, first_page, page_size, math.ceil(population * lookups_per_key), lists)
    full = min(paging, batched)
    if remaining is None:
        return population, False, "all keys (the server sent no X-RateLimit-Remaining)"
    budget = remaining // BUDGET_SHARE
    if full <= budget:
        return (
            population,
            False,
            f"all keys: {full:,} more request(s) needed, within 10% of the {remaining:,} left this hour",
        )
    batches = max(1, budget - lists)
    n = min(population, max(1, int(batches * page_size / max(lookups_per_key, 1.0))))
    return (
        n,
        n < population,
        f"a sample of {n:,} of {population:,} keys: checking all would cost {full:,} requests, more than "
        f"10% of the {remaining:,} left this hour (choose the size with --sample N)",
    )


class ReadBack:
    """Search-only (``contacts:read`` suffices): verify never sends a write."""

    def __init__(self, client: BenchmarkClient, structure_id: str, *, page_size: int | None = None) -> None:
        self.client = client
        self.structure_id = structure_id
        self.builder = IndexBuilder(client, structure_id)
        self.builder.page_size = page_size  # the size the run learned: no stepping down again
        self.first: list[Doc] = []
        self.total = 0

    @property
    def page_size(self) -> int:
        assert self.builder.page_size is not None
        return self.builder.page_size

    def probe(self) -> int:
        """First page of the structure; returns its ``totalRecords``."""
        self.total, self.first = self.builder.probe()
        return self.total

    def _search(self, filters: list[Doc], page: int, size: int, source: list[str]) -> dict[str, Any]:
        return self.client.search(
            {
                "contactStructureId": self.structure_id,
                "page": page,
                "pageSize": size,
                "source": source,
                "contactSpecification": {"filters": filters},
            }
        )

    def page_all(self) -> list[Doc]:
        """Every contact of the structure, the probe page included."""
        out = [compact(c) for c in self.first]
        for page in range(2, math.ceil(self.total / self.page_size) + 1):
            out += [compact(c) for c in self._search([], page, self.page_size, SOURCE).get("contacts") or []]
        return out

    def search_keys(self, lookups: Sequence[str]) -> list[Doc]:
        """Every contact matching one of ``lookups`` (duplicates kept: one doc per account contact)."""
        batch = self.page_size
        found: dict[str, Doc] = {}
        i = 0
        while i < len(lookups):
            chunk = lookups[i : i + batch]
            filters = [
                {"criterias": [{"columnToFilter": "KEY", "operator": "EQ", "values": [k]}]} for k in chunk
            ]
            try:
                answer = self._search(filters, 1, self.page_size, SOURCE)
            except InvalidRequest:
                if batch == 1:
                    raise
                batch = max(1, batch // 2)  # too many groups for this server: halve
                continue
            docs = list(answer.get("contacts") or [])
            pages = math.ceil(int(answer.get("totalRecords") or 0) / self.page_size)
            for page in range(2, pages + 1):
                docs += self._search(filters, page, self.page_size, SOURCE).get("contacts") or []
            found.update((str(d.get("_id")), compact(d)) for d in docs)
            i += len(chunk)
        return list(found.values())

    def list_total(self, list_id: str) -> int:
        """``totalRecords`` of a ``LIST_ID`` search (one request, one-row page)."""
        filters = [{"criterias": [{"columnToFilter": "LIST_ID", "operator": "EQ", "values": [list_id]}]}]
        return int(self._search(filters, 1, 1, ["_id"]).get("totalRecords") or 0)


def by_key(docs: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Account contacts grouped by mailbox key (a group of two or more is a duplicate)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for d in docs:
        key = d.get("key")
        if isinstance(key, str):
            out.setdefault(mailbox_key(key), []).append(d)
    return out
