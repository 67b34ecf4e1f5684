"""One contact as the load's decisions see it: the plan (source) and the account's document, with overrides."""

from __future__ import annotations

from typing import Any

from etl.model import PlannedContact

F1, F2, L1, L2, T1 = "f" * 24, "e" * 24, "a" * 24, "b" * 24, "c" * 24


def plan(**kw: Any) -> PlannedContact:
    base: dict[str, Any] = {"key": "jane@x.com", "row_ids": (1,), "fields": ((F1, "Jane"),), "lists": (L1,)}
    base.update(kw)
    return PlannedContact(**base)


def doc(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": "1" * 24,
        "key": "jane@x.com",
        "status": "Active",
        "secondary": None,
        "fields": {F1: "Jane"},
        "lists": [L1],
        "tags": [],
    }
    base.update(kw)
    return base
