"""The dedup index: which of our keys already exist in the target structure, bought at the lowest price.

Three ways to learn it, priced before choosing (one probe page tells ``totalRecords`` for the structure):

- **paging** the whole structure at the largest ``pageSize`` the server accepts: ``ceil(total / size)``
  requests, and it sees keys whatever their case;
- **batched key searches**: OR-ed groups of one ``KEY``/``EQ`` criterion each, up to ``size`` groups per
  request: ``ceil(keys / size)`` requests (times the raw-case variants that differ, because a server's EQ
  may be case-sensitive);
- **export**: ``POST /api/contact/export`` answers the whole structure as CSV in one request (plus one
  ``GET`` of the structure to name its columns, and ``…/lists/all`` if lists come by name). Its body and
  columns are undocumented, so it is probed with the smallest body that could work and used only when
  ``etl.load.export_read`` finds everything the decision reads in it; any doubt falls back to the cheaper
  of the other two, is said once (``IndexResult.fallback``) and remembered for the account
  (``etl.load.accounts``), so the next runs do not probe again until the verdict expires (a day or a
  week, by the kind of failure) unless ``--index-strategy export`` says so.

The index maps the *lower-cased* key to a compact document (``_id``, key, status, fields, lists, tags), so
``Jane@X.com`` in the account is found for ``jane@x.com``. The loader consults only this index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.benchmark.client import BenchmarkClient, utc_iso
from etl.benchmark.search import PAGE_SIZES, SearchPager
from etl.errors import LoadError
from etl.load.accounts import AccountNotes, Verdict, failure_kind
from etl.load.export_read import Columns, ExportDoubt, name_map, read_export
from etl.mailbox import mailbox_key

STRATEGIES = ("auto", "paging", "search", "export")  # --index-strategy; "search" is the batched key search
EXPORT_PRICE = 2  # the structure GET that names the columns + the export itself
EXPORT_TIMEOUT = 300.0  # seconds the one export request may take before paging is cheaper in time too
HOURLY = 3600  # the documented hourly limit: what the read's price in hours is counted against

SOURCE = ["_id", "key", "fields", "lists", "tags", "contactStatus", "contactSubStatus"]

Doc = dict[str, Any]


def compact(contact: Mapping[str, Any]) -> Doc:
    """A search hit or a full contact → the index document (status from either response shape)."""
    status = contact.get("contactStatus")
    sub = contact.get("contactSubStatus")
    if isinstance(contact.get("status"), Mapping):
        status = contact["status"].get("primary", status)
        sub = contact["status"].get("secondary", sub)
    return {
        "_id": contact.get("_id"),
        "key": contact.get("key"),
        "status": status,
        "secondary": sub,
        "fields": {
            f["_id"]: "" if f.get("value") is None else str(f.get("value"))
            for f in contact.get("fields") or []
            if isinstance(f, Mapping) and "_id" in f
        },
        "lists": sorted({x["_id"] for x in contact.get("lists") or [] if isinstance(x, Mapping)}),
        "tags": sorted({x["_id"] for x in contact.get("tags") or [] if isinstance(x, Mapping)}),
    }


@dataclass
class IndexResult:
    docs: dict[str, Doc]
    strategy: str  # "empty" | "paging" | "batched" | "export"
    requests: int
    page_size: int
    total: int
    notes: list[str] = field(default_factory=list)
    prices: dict[str, int] = field(default_factory=dict)  # requests each way would cost after the probe
    fallback: str | None = None  # why the export was not used, when it was tried or skipped

    def read_section(self) -> dict[str, Any]:
        """The ``read`` sub-object of the dry run's plan and the report's ``load``: chosen way and prices."""
        return {
            "strategy": self.strategy,
            "requests": self.requests,
            "hours": hours(self.requests),
            "total": self.total,
            "alternatives": {k: {"requests": v, "hours": hours(v)} for k, v in self.prices.items()},
            "export_fallback": self.fallback,
        }


def hours(requests: int) -> float:
    return round(requests / HOURLY, 3)


class IndexBuilder:
    """Reads only (``contacts:read`` suffices), so the dry run can use it too. Pages through
    ``etl.benchmark.search.SearchPager`` (``pager``), which learns the page size and the group limit."""

    def __init__(
        self,
        client: BenchmarkClient,
        structure_id: str,
        *,
        page_sizes: Sequence[int] = PAGE_SIZES,
        max_groups: int | None = None,
        strategy: str = "auto",
        notes: AccountNotes | None = None,
        export_timeout: float = EXPORT_TIMEOUT,
        target: str | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"index strategy must be one of {', '.join(STRATEGIES)}")
        self.client = client
        self.structure_id = structure_id
        self.pager = SearchPager(client, structure_id, page_sizes=page_sizes, max_groups=max_groups)
        self.strategy = strategy
        self.notes = notes  # where the export's verdict is remembered (None: nowhere, probe every run)
        self.export_timeout = export_timeout
        self.target = target or client.base_url  # the account's identity (the embedded sandbox's port varies)
        self.extra_requests = 0  # structure, lists and export requests (the pager counts the searches)

    @property
    def page_size(self) -> int | None:
        return self.pager.page_size

    @page_size.setter
    def page_size(self, size: int | None) -> None:  # the size a run learned: no stepping down again
        self.pager.page_size = size

    @property
    def max_groups(self) -> int | None:
        return self.pager.max_groups

    @property
    def requests(self) -> int:
        return self.pager.requests + self.extra_requests

    def probe(self) -> tuple[int, list[Doc]]:
        """First page of the whole structure at the largest accepted size: (totalRecords, contacts)."""
        return self.pager.probe(SOURCE)

    def page_all(self, total: int, first: list[Doc]) -> dict[str, Doc]:
        docs = _index(first)
        for contacts in self.pager.pages([], total, SOURCE):
            docs.update(_index(contacts))
        return docs

    def search_keys(self, keys: Iterable[str]) -> dict[str, Doc]:
        """Look keys up in batches of OR-ed single-value EQ groups; results indexed case-insensitively."""
        docs: dict[str, Doc] = {}
        for contacts in self.pager.by_keys(list(dict.fromkeys(keys)), SOURCE):
            docs.update(_index(contacts))
        return docs

    def build(self, keys: Sequence[str], variants: Mapping[str, Iterable[str]] | None = None) -> IndexResult:
        """Price the three ways after one probe page, try the export when it is the cheapest (or forced),
        else run the cheaper of paging and batched search."""
        total, first = self.probe()
        assert self.page_size is not None
        start = self.requests
        if total <= len(first):
            return IndexResult(
                _index(first), "empty" if total == 0 else "paging", self.requests, self.page_size, total
            )
        lookups = _lookups(keys, variants)
        batch = min(self.page_size, self.max_groups or self.page_size)
        prices = {
            "paging": math.ceil(total / self.page_size) - 1,
            "batched": math.ceil(len(lookups) / batch),
            "export": EXPORT_PRICE,
        }
        docs: dict[str, Doc] | None = None
        fallback: str | None = None
        if self._export_wanted(prices):
            docs, fallback = self._try_export(total)
        elif self.strategy == "auto" and _cheapest(prices):
            fallback = self._known_bad()
        if docs is not None:
            strategy = "export"
        elif self.strategy == "paging" or (
            self.strategy != "search" and prices["paging"] <= prices["batched"]
        ):
            docs = self.page_all(total, first)
            strategy = "paging"
        else:
            docs = self.search_keys(lookups)
            strategy = "batched"
        notes = [
            f"{strategy}: {self.requests - start} requests after the probe (paging would cost "
            f"{prices['paging']}, batched {prices['batched']}, export {prices['export']})"
        ]
        if fallback:
            notes.append(fallback)
        return IndexResult(docs, strategy, self.requests, self.page_size, total, notes, prices, fallback)

    # --- the export -----------------------------------------------------------------------------------------
    def _account(self) -> str:
        return AccountNotes.account(self.target, self.structure_id)

    def _known_bad(self) -> str | None:
        """Why ``auto`` skips the export: a failed verdict that has not expired (None: try it)."""
        verdict = self.notes.export_verdict(self._account()) if self.notes is not None else None
        if verdict is None or not verdict.holds(self.client.clock.now()):
            return None
        until = verdict.retry_after()
        assert until is not None  # a verdict that holds has an expiry
        return (
            f"export not tried: the export failed here on {_when(verdict.at)} ({verdict.reason}); trying it "
            f"again after {_when(utc_iso(until))} (--index-strategy export tries it now)"
        )

    def _export_wanted(self, prices: Mapping[str, int]) -> bool:
        if self.strategy == "export":
            return True
        if self.strategy != "auto" or not _cheapest(prices):
            return False
        return self._known_bad() is None

    def _try_export(self, total: int) -> tuple[dict[str, Doc] | None, str | None]:
        """The index from one export, or (None, why not); the verdict is remembered either way."""
        try:
            docs, columns = self.read_export(total)
        except (ExportDoubt, LoadError) as exc:
            reason = str(exc).splitlines()[0][:300]
            verdict = Verdict(False, reason, utc_iso(self.client.clock.now()), failure_kind(exc))
            self._remember(verdict)
            note = f"export not used: {reason}; read by search instead"
            again = verdict.retry_after()
            if again is not None and self.notes is not None and not self.notes.readonly:  # remembered
                note += f" (auto tries the export again after {_when(utc_iso(again))})"
            return None, note
        self._remember(Verdict(True, columns.describe(), utc_iso(self.client.clock.now())))
        return docs, None

    def read_export(self, total: int) -> tuple[dict[str, Doc], Columns]:
        """The export with the smallest body that could work, then the structure that names its columns
        (asked second: an export that is refused costs one request, not two)."""
        self.extra_requests += 1
        content_type, data = self.client.export(
            {"contactStructureId": self.structure_id}, timeout=self.export_timeout
        )
        self.extra_requests += 1
        structure = self.client.get_structure(self.structure_id)

        def lists() -> dict[str, str]:
            self.extra_requests += 1
            return name_map(self.client.all_lists(self.structure_id), "name")

        return read_export(content_type, data, structure, lists, total)

    def _remember(self, verdict: Verdict) -> None:
        if self.notes is not None:
            self.notes.remember_export(self._account(), verdict)


def _when(iso: str) -> str:
    """``2026-12-01T14:05:09Z`` → ``2026-12-01 14:05 UTC``: a verdict's time as a note line says it."""
    return f"{iso[:10]} {iso[11:16]} UTC"


def _cheapest(prices: Mapping[str, int]) -> bool:
    """Is the export cheaper than both other ways (a tie goes to the documented search)?"""
    return prices["export"] < min(prices["paging"], prices["batched"])


def _lookups(keys: Sequence[str], variants: Mapping[str, Iterable[str]] | None) -> list[str]:
    out = list(keys)
    if variants:
        for key in keys:
            out.extend(v for v in variants.get(key, ()) if v != key)
    return list(dict.fromkeys(out))


def _index(contacts: Iterable[Mapping[str, Any]]) -> dict[str, Doc]:
    out: dict[str, Doc] = {}
    for c in contacts:
        key = c.get("key")
        if isinstance(key, str):
            out[mailbox_key(key)] = compact(c)
    return out
