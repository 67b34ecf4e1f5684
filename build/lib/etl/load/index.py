"""The dedup index: which of our keys already exist in the target structure, bought at the lowest price.

Two ways to learn it, priced before choosing (one probe page tells ``totalRecords`` for the structure):

- **paging** the whole structure at the largest ``pageSize`` the server accepts: ``ceil(total / size)``
  requests, and it sees keys whatever their case;
- **batched key searches**: OR-ed groups of one ``KEY``/``EQ`` criterion each, up to ``size`` groups per
  request: ``ceil(keys / size)`` requests (times the raw-case variants that differ, because a server's EQ
  may be case-sensitive).

The index maps the *lower-cased* key to a compact document (``_id``, key, status, fields, lists, tags), so
``Jane@X.com`` in the account is found for ``jane@x.com``. The loader consults only this index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.benchmark.client import BenchmarkClient
from etl.benchmark.search import PAGE_SIZES, SearchPager
from etl.mailbox import mailbox_key

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
    strategy: str  # "empty" | "paging" | "batched"
    requests: int
    page_size: int
    total: int
    notes: list[str] = field(default_factory=list)


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
    ) -> None:
        self.client = client
        self.structure_id = structure_id
        self.pager = SearchPager(client, structure_id, page_sizes=page_sizes, max_groups=max_groups)

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
        return self.pager.requests

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
        """Price both strategies after one probe page and run the cheaper one."""
        total, first = self.probe()
        assert self.page_size is not None
        start = self.requests
        if total <= len(first):
            return IndexResult(
                _index(first), "empty" if total == 0 else "paging", self.requests, self.page_size, total
            )
        lookups = _lookups(keys, variants)
        paging_cost = math.ceil(total / self.page_size) - 1
        batch = min(self.page_size, self.max_groups or self.page_size)
        batched_cost = math.ceil(len(lookups) / batch)
        if paging_cost <= batched_cost:
            docs = self.page_all(total, first)
            strategy = "paging"
        else:
            docs = self.search_keys(lookups)
            strategy = "batched"
        notes = [
            f"{strategy}: {self.requests - start} requests after the probe "
            f"(paging would cost {paging_cost}, batched {batched_cost})"
        ]
        return IndexResult(docs, strategy, self.requests, self.page_size, total, notes)


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
