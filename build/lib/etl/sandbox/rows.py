"""The sandbox's records as plain dataclasses, its timestamp format and its id generator."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso(ts: float) -> str:
    """Benchmark's timestamp shape: ISO-8601 UTC with milliseconds and a ``Z``."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class IdFactory:
    """ObjectId-shaped ids: 4 bytes of time, 5 per-process random bytes, a 3-byte counter.

    Ids made by one factory sort in creation order, which makes ``(createdAt, _id)`` a stable search order
    even when a fake clock gives every contact the same ``createdAt``.
    """

    def __init__(self, random_bytes: bytes | None = None) -> None:
        self._prefix = (random_bytes or os.urandom(5)).hex()
        self._counter = 0
        self._lock = threading.Lock()

    def new(self, now: float) -> str:
        with self._lock:
            self._counter = (self._counter + 1) % 0x1000000
            n = self._counter
        return f"{int(now) & 0xFFFFFFFF:08x}{self._prefix}{n:06x}"


@dataclass
class ContactRow:
    id: str
    structure_id: str
    key: str
    fields: list[tuple[str, str]]
    lists: list[str]
    tags: list[str]
    status: str
    secondary: str | None
    v: int
    created_at: str
    updated_at: str


@dataclass
class ListRow:
    id: str
    structure_id: str
    name: str
    type: str
    v: int
    created_at: str
    updated_at: str
    total_contacts: int = 0


@dataclass
class StructureRow:
    id: str
    label: str
    key_name: str
    key_type: str
    fields: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    v: int
    created_at: str = ""
    field_ids: frozenset[str] = field(init=False)
    tag_ids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.field_ids = frozenset(f["_id"] for f in self.fields)
        self.tag_ids = frozenset(t["_id"] for t in self.tags)
