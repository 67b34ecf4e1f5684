"""Paging ``POST /api/contact/search`` over one contact structure: the one place that knows its shapes.

The load's dedup index (``etl.load.index``) and verify's read-back (``etl.verify.readback``) read the account
the same two ways, so both page through this class:

- ``probe``: the first page of the whole structure at the largest ``pageSize`` the server accepts, stepping
  down (straight to the maximum when the 400 names it) and remembering the size that worked;
- ``pages``: the pages after a first one of the same filters, until ``totalRecords`` is read;
- ``by_keys``: OR-ed groups of one ``KEY``/``EQ`` criterion each, a page's worth of keys per request (every
  page of each batch read); a server that refuses that many groups gets half as many, remembered;
- ``count``: a filter's ``totalRecords`` for the price of a one-row page.

``requests`` counts every search sent, so callers can price and report what they spent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from etl.benchmark.client import BenchmarkClient
from etl.errors import InvalidRequest

PAGE_SIZES = (1000, 500, 250, 200, 100, 50, 25, 10)

Doc = dict[str, Any]


def key_filters(keys: Iterable[str]) -> list[Doc]:
    """One OR-ed group per key: the documented way to look several keys up in one request."""
    return [{"criterias": [{"columnToFilter": "KEY", "operator": "EQ", "values": [k]}]} for k in keys]


class SearchPager:
    """Searches of one structure, priced in ``requests``; ``page_size`` is learned by ``probe`` (or given)."""

    def __init__(
        self,
        client: BenchmarkClient,
        structure_id: str,
        *,
        page_sizes: Sequence[int] = PAGE_SIZES,
        page_size: int | None = None,
        max_groups: int | None = None,
    ) -> None:
        self.client = client
        self.structure_id = structure_id
        self.page_sizes = tuple(page_sizes)
        self.page_size = page_size
        self.max_groups = max_groups
        self.requests = 0

    def search(self, filters: list[Doc], page: int, size: int, source: Sequence[str]) -> dict[str, Any]:
        """One search request; the answer as the server sent it."""
        self.requests += 1
        return self.client.search(
            {
                "contactStructureId": self.structure_id,
                "page": page,
                "pageSize": size,
                "source": list(source),
                "contactSpecification": {"filters": filters},
            }
        )

    def probe(self, source: Sequence[str]) -> tuple[int, list[Doc]]:
        """First page of the whole structure at the largest accepted size: (totalRecords, contacts)."""
        sizes = [s for s in self.page_sizes if self.page_size is None or s <= self.page_size]
        cap: int | None = None
        for size in sizes:
            if cap is not None and size > cap:
                continue
            try:
                answer = self.search([], 1, size, source)
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

    def _size(self) -> int:
        if self.page_size is None:
            raise ValueError("the page size is not known yet: probe first")
        return self.page_size

    def pages(self, filters: list[Doc], total: int, source: Sequence[str]) -> Iterator[list[Doc]]:
        """The contacts of pages 2…last of ``filters`` (page 1 was read already and said ``total``)."""
        size = self._size()
        for page in range(2, math.ceil(total / size) + 1):
            yield list(self.search(filters, page, size, source).get("contacts") or [])

    def by_keys(self, keys: Sequence[str], source: Sequence[str]) -> Iterator[list[Doc]]:
        """The contacts matching ``keys``, one batch (every page of it) at a time."""
        if self.page_size is None:
            self.probe(source)
        size = self._size()
        batch = min(size, self.max_groups or size)
        i = 0
        while i < len(keys):
            chunk = keys[i : i + batch]
            filters = key_filters(chunk)
            try:
                answer = self.search(filters, 1, size, source)
            except InvalidRequest:
                if batch == 1:
                    raise
                batch = max(1, batch // 2)  # too many groups for this server: halve and remember
                self.max_groups = batch
                continue
            docs = list(answer.get("contacts") or [])
            for more in self.pages(filters, int(answer.get("totalRecords") or 0), source):
                docs += more
            yield docs
            i += len(chunk)

    def count(self, filters: list[Doc]) -> int:
        """``totalRecords`` of ``filters`` (one request, one-row page)."""
        return int(self.search(filters, 1, 1, ["_id"]).get("totalRecords") or 0)
