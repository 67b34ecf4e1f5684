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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.benchmark.client import BenchmarkClient, InvalidRequest
from etl.mailbox import mailbox_key

SOURCE = ["_id", "key", "fields", "lists", "tags", "contactStatus", "contactSubStatus"]
PAGE_SIZES = (1000, 500, 250, 200, 100, 50, 25, 10)

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
    """Reads only (``contacts:read`` suffices), so the dry run can use it too."""

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
        self.page_sizes = tuple(page_sizes)
        self.page_size: int | None = None
        self.max_groups = max_groups
        self.requests = 0

    def _search(self, filters: list[Doc], page: int, size: int) -> dict[str, Any]:
        self.requests += 1
        return self.client.search(
            {
                "contactStructureId": self.structure_id,
                "page": page,
                "pageSize": size,
                "source": SOURCE,
                "contactSpecification": {"filters": filters},
            }
        )

    def probe(self) -> tuple[int, list[Doc]]:
        """First page of the whole structure at the largest accepted size: (totalRecords, contacts)."""
        sizes = [s for s in self.page_sizes if self.page_size is None or s <= self.page_size]
        cap: int | None = None
        for size in sizes:
            if cap is not None and size > cap:
                continue
            try:
                answer = self._search([], 1, size)
            except InvalidRequest as exc:
                if exc.field == "pageSize" or "pagesize" in str(exc).lower():
                    # above the server's maximum: step down, straight to the maximum if the message names it
                    numbers = [int(n) for n in re.findall(r"\b\d+\b", str(exc).rsplit(":", 1)[-1])]
                    cap = min((n for n in numbers if 0 < n < size), default=None)
                    continue
                raise
            self.page_size = size
            return int(answer.get("totalRecords") or 0), list(answer.get("contacts") or [])
        raise InvalidRequest("search refused every page size tried", field="pageSize")

    def page_all(self, total: int, first: list[Doc]) -> dict[str, Doc]:
        assert self.page_size is not None
        docs = _index(first)
        for page in range(2, math.ceil(total / self.page_size) + 1):
            docs.update(_index(self._search([], page, self.page_size).get("contacts") or []))
        return docs

    def search_keys(self, keys: Iterable[str]) -> dict[str, Doc]:
        """Look keys up in batches of OR-ed single-value EQ groups; results indexed case-insensitively."""
        if self.page_size is None:
            self.probe()
        assert self.page_size is not None
        wanted = list(dict.fromkeys(keys))
        batch = min(self.page_size, self.max_groups or self.page_size)
        docs: dict[str, Doc] = {}
        i = 0
        while i < len(wanted):
            chunk = wanted[i : i + batch]
            filters = [
                {"criterias": [{"columnToFilter": "KEY", "operator": "EQ", "values": [k]}]} for k in chunk
            ]
            try:
                answer = self._search(filters, 1, self.page_size)
            except InvalidRequest:
                if batch == 1:
                    raise
                batch = max(1, batch // 2)  # too many groups for this server: halve and remember
                self.max_groups = batch
                continue
            docs.update(_index(answer.get("contacts") or []))
            total = int(answer.get("totalRecords") or 0)
            for page in range(2, math.ceil(total / self.page_size) + 1):
                docs.update(_index(self._search(filters, page, self.page_size).get("contacts") or []))
            i += len(chunk)
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
