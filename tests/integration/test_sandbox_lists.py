"""Sandbox contract: lists under a contact structure (docs/reference/benchmark-api.md §5.3, §9.2)."""

from __future__ import annotations

from typing import Any

import pytest

from etl.clock import FakeClock
from tests.fixtures.sandbox import client_for, default_structure, error_of, search_body

ZERO_ID = "0" * 24
LIST_KEYS = {"_id", "name", "type", "totalContacts", "totalCampaigns", "createdAt", "updatedAt", "__v"}


@pytest.fixture
def env(sandbox_factory) -> Any:
    clock = FakeClock()
    box = sandbox_factory(clock=clock)
    with client_for(box) as c:
        sid = default_structure(c)["_id"]
        yield type(
            "Env", (), {"c": c, "sid": sid, "base": f"/api/contact-structure/{sid}/lists", "clock": clock}
        )


def make(env: Any, name: str) -> dict[str, Any]:
    r = env.c.post(env.base, json={"name": name})
    assert r.status_code == 201, r.text
    env.clock.advance(1)
    return r.json()


def test_create_is_201_static_v0(env) -> None:
    doc = make(env, "Newsletter")
    assert set(doc) == LIST_KEYS
    assert doc["name"] == "Newsletter" and doc["type"] == "static" and doc["__v"] == 0
    assert doc["totalContacts"] == 0 and doc["totalCampaigns"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"name": "x" * 1001}, "name"),
        ({"name": "x", "type": "smart"}, "type"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_create_validation(env, body, field) -> None:
    r = env.c.post(env.base, json=body)
    assert r.status_code == 400 and error_of(r)["field"] == field


def test_name_of_exactly_1000_characters_is_fine(env) -> None:
    assert make(env, "x" * 1000)["name"] == "x" * 1000


def test_paginated_get_with_sort_and_criteria(env) -> None:
    for name in ["Charlie", "alpha", "Bravo", "Alpine"]:
        make(env, name)
    r = env.c.get(env.base, params={"page": 1, "size": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and [x["name"] for x in body["records"]] == ["Charlie", "alpha"]
    assert set(body["records"][0]) == LIST_KEYS
    body = env.c.get(env.base, params={"page": 2, "size": 2, "sort": "createdAt:desc"}).json()
    assert [x["name"] for x in body["records"]] == ["alpha", "Charlie"]
    body = env.c.get(env.base, params={"sort": "name:asc"}).json()
    assert [x["name"] for x in body["records"]] == ["Alpine", "Bravo", "Charlie", "alpha"]
    body = env.c.get(env.base, params={"criteria": "ALP"}).json()
    assert body["total"] == 2 and {x["name"] for x in body["records"]} == {"alpha", "Alpine"}


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"size": "x"},
        {"sort": "name"},
        {"sort": "colour:asc"},
        {"sort": "name:up"},
        {"criteria": "c" * 51},
    ],
)
def test_paginated_get_validation(env, params) -> None:
    r = env.c.get(env.base, params=params)
    assert r.status_code == 400 and error_of(r)["errorType"] == "ValidationError"


def test_all_is_an_unpaginated_array_and_wins_over_list_id(env) -> None:
    a, b = make(env, "A"), make(env, "B")
    r = env.c.get(env.base + "/all")
    assert r.status_code == 200
    assert r.json() == [
        {"_id": a["_id"], "name": "A", "type": "static"},
        {"_id": b["_id"], "name": "B", "type": "static"},
    ]


def test_total_contacts_counts_members(env) -> None:
    lst = make(env, "A")
    for i in range(3):
        env.c.post(
            "/api/contact",
            json={"key": f"p{i}@example.com", "contactStructureId": env.sid, "lists": [{"_id": lst["_id"]}]},
        )
    assert env.c.get(f"{env.base}/{lst['_id']}").json()["totalContacts"] == 3


def test_patch_renames_with_current_v(env) -> None:
    lst = make(env, "Old")
    r = env.c.patch(f"{env.base}/{lst['_id']}", json={"name": "New", "__v": 0})
    assert r.status_code == 200 and r.json()["name"] == "New" and r.json()["__v"] == 1
    assert r.json()["updatedAt"] > r.json()["createdAt"]
    stale = env.c.patch(f"{env.base}/{lst['_id']}", json={"name": "Newer", "__v": 0})
    assert stale.status_code == 400 and error_of(stale)["errorType"] == "ConcurrencyError"
    missing = env.c.patch(f"{env.base}/{lst['_id']}", json={"name": "Newer"})
    assert missing.status_code == 400 and error_of(missing)["field"] == "__v"
    assert env.c.get(f"{env.base}/{lst['_id']}").json()["name"] == "New"


def test_delete_one_is_204_and_removes_membership(env) -> None:
    lst = make(env, "Gone")
    contact = env.c.post(
        "/api/contact",
        json={"key": "p@example.com", "contactStructureId": env.sid, "lists": [{"_id": lst["_id"]}]},
    ).json()
    r = env.c.delete(f"{env.base}/{lst['_id']}")
    assert r.status_code == 204 and r.content == b""
    assert env.c.get(f"{env.base}/{lst['_id']}").status_code == 404
    assert env.c.get(f"/api/contact/{contact['_id']}").json()["lists"] == []
    assert env.c.delete(f"{env.base}/{lst['_id']}").status_code == 404


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_list_is_404(env, method) -> None:
    r = env.c.request(
        method, f"{env.base}/{ZERO_ID}", json={"name": "x", "__v": 0} if method == "PATCH" else None
    )
    assert r.status_code == 404 and error_of(r)["errorType"] == "RecordNotFound"


def _members(env: Any, list_id: str) -> int:
    body = search_body(env.sid, [[{"columnToFilter": "LIST_ID", "operator": "EQ", "values": [list_id]}]])
    return env.c.post("/api/contact/search", json=body).json()["totalRecords"]


def test_merge_duplicate_and_delete_many(env) -> None:
    a, b = make(env, "A"), make(env, "B")
    for i, lists in enumerate([[a], [b], [a, b]]):
        env.c.post(
            "/api/contact",
            json={
                "key": f"p{i}@example.com",
                "contactStructureId": env.sid,
                "lists": [{"_id": x["_id"]} for x in lists],
            },
        )
    merged = env.c.post(env.base + "/merge", json={"listIds": [a["_id"], b["_id"]], "name": "A+B"})
    assert (
        merged.status_code == 200 and merged.json()["name"] == "A+B" and merged.json()["totalContacts"] == 3
    )
    dup = env.c.post(f"{env.base}/{a['_id']}/duplicate", json={})
    assert (
        dup.status_code == 201 and dup.json()["name"] == "A (copy)" and _members(env, dup.json()["_id"]) == 2
    )
    r = env.c.request("DELETE", env.base, json={"listIds": [a["_id"], b["_id"]]})
    assert r.status_code == 204
    assert [x["name"] for x in env.c.get(env.base + "/all").json()] == ["A+B", "A (copy)"]
    assert _members(env, merged.json()["_id"]) == 3
    bad = env.c.request("DELETE", env.base, json={"listIds": [ZERO_ID]})
    assert bad.status_code == 404
