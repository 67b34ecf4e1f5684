"""Sandbox contract: ``POST /api/contact/search`` (docs/reference/benchmark-api.md §7)."""

from __future__ import annotations

from typing import Any

import pytest

from etl.clock import FakeClock
from tests.fixtures.sandbox import client_for, default_structure, error_of, field_id, key_eq, search_body

ZERO_ID = "0" * 24


@pytest.fixture
def env(sandbox_factory) -> Any:
    """Five contacts (a..e@example.com), a and c in list A, c and d named "Kim", e Inactive."""
    clock = FakeClock()
    box = sandbox_factory(clock=clock)
    with client_for(box) as c:
        s = default_structure(c)
        sid, first = s["_id"], field_id(s, "First Name")
        list_a = c.post(f"/api/contact-structure/{sid}/lists", json={"name": "A"}).json()["_id"]
        ids = {}
        for name in "abcde":
            body: dict[str, Any] = {"key": f"{name}@example.com", "contactStructureId": sid}
            if name in "ac":
                body["lists"] = [{"_id": list_a}]
            if name in "cd":
                body["fields"] = [{"_id": first, "value": "Kim"}]
            if name == "e":
                body["status"] = {"primary": "Inactive", "secondary": "Unsubscribe"}
            ids[name] = c.post("/api/contact", json=body).json()["_id"]
            clock.advance(1)
        yield type("Env", (), {"c": c, "sid": sid, "first": first, "list": list_a, "ids": ids})


def run(env: Any, groups: list[list[dict[str, Any]]], **kw: Any) -> dict[str, Any]:
    r = env.c.post("/api/contact/search", json=search_body(env.sid, groups, **kw))
    assert r.status_code == 200, r.text
    return r.json()


def keys_of(result: dict[str, Any]) -> list[str]:
    return [c["key"] for c in result["contacts"]]


def crit(column: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"columnToFilter": column, "operator": "EQ", "values": [value], **extra}


def test_or_of_key_groups_finds_several_emails_in_one_request(env) -> None:
    result = run(env, key_eq("d@example.com", "a@example.com", "nobody@example.com"))
    assert keys_of(result) == ["a@example.com", "d@example.com"] and result["totalRecords"] == 2


def test_and_within_a_group(env) -> None:
    kim_in_a = [[crit("LIST_ID", env.list), crit("FIELD_ID", "Kim", fieldId=env.first)]]
    assert keys_of(run(env, kim_in_a)) == ["c@example.com"]
    assert keys_of(run(env, [[crit("LIST_ID", env.list)], [crit("FIELD_ID", "Kim", fieldId=env.first)]])) == [
        "a@example.com",
        "c@example.com",
        "d@example.com",
    ]


def test_empty_filters_match_the_whole_structure(env) -> None:
    assert run(env, [])["totalRecords"] == 5


def test_pagination_is_deterministic_and_total_counts_all(env) -> None:
    pages = [run(env, [], page=p, page_size=2) for p in (1, 2, 3, 4)]
    assert [keys_of(p) for p in pages] == [
        ["a@example.com", "b@example.com"],
        ["c@example.com", "d@example.com"],
        ["e@example.com"],
        [],
    ]
    assert {p["totalRecords"] for p in pages} == {5}


def test_projection_and_status_names(env) -> None:
    result = run(
        env,
        key_eq("e@example.com", "c@example.com"),
        source=["contactStatus", "contactSubStatus", "fields", "lists", "tags", "createdAt", "updatedAt"],
    )
    c_doc, e_doc = result["contacts"]
    assert c_doc == {
        "_id": env.ids["c"],
        "fields": [{"_id": env.first, "value": "Kim"}],
        "lists": [{"_id": env.list}],
        "tags": [],
        "contactStatus": "Active",
        "createdAt": c_doc["createdAt"],
        "updatedAt": c_doc["updatedAt"],
        "contactStructureId": env.sid,
    }
    assert e_doc["contactStatus"] == "Inactive" and e_doc["contactSubStatus"] == "Unsubscribe"
    assert "key" not in e_doc


def test_id_and_structure_always_returned(env) -> None:
    doc = run(env, key_eq("a@example.com"), source=["key"])["contacts"][0]
    assert doc == {"_id": env.ids["a"], "key": "a@example.com", "contactStructureId": env.sid}


def test_key_match_is_case_sensitive_by_default(env) -> None:
    assert run(env, key_eq("A@EXAMPLE.COM"))["totalRecords"] == 0


@pytest.mark.parametrize(
    "missing", ["contactStructureId", "page", "pageSize", "source", "contactSpecification"]
)
def test_every_top_level_property_is_required(env, missing) -> None:
    body = search_body(env.sid, key_eq("a@example.com"))
    del body[missing]
    r = env.c.post("/api/contact/search", json=body)
    assert r.status_code == 400
    assert error_of(r)["errorType"] == "ValidationError" and error_of(r)["field"] == missing


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": []}, "source"),
        ({"source": ["_ID"]}, "source"),
        ({"source": ["key", "email"]}, "source"),
        ({"source": "key"}, "source"),
        ({"page": 0}, "page"),
        ({"page": "1"}, "page"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": 0}, "pageSize"),
        ({"size": 10}, "size"),
        ({"contactStructureId": "abc"}, "contactStructureId"),
        ({"contactStructureId": ZERO_ID}, "contactStructureId"),
        ({"contactSpecification": {}}, "contactSpecification"),
        ({"contactSpecification": {"filters": [{"criteria": []}]}}, "criterias"),
        (
            {"contactSpecification": {"filters": [{"criterias": [crit("EMAIL", "a@example.com")]}]}},
            "columnToFilter",
        ),
        (
            {
                "contactSpecification": {
                    "filters": [
                        {"criterias": [{"columnToFilter": "KEY", "operator": "CONTAINS", "values": ["a"]}]}
                    ]
                }
            },
            "operator",
        ),
        (
            {
                "contactSpecification": {
                    "filters": [
                        {
                            "criterias": [
                                {
                                    "columnToFilter": "KEY",
                                    "operator": "EQ",
                                    "values": ["a@example.com", "b@example.com"],
                                }
                            ]
                        }
                    ]
                }
            },
            "values",
        ),
        (
            {
                "contactSpecification": {
                    "filters": [{"criterias": [{"columnToFilter": "KEY", "operator": "EQ", "values": []}]}]
                }
            },
            "values",
        ),
        ({"contactSpecification": {"filters": [{"criterias": [crit("FIELD_ID", "Kim")]}]}}, "fieldId"),
        (
            {
                "contactSpecification": {
                    "filters": [{"criterias": [crit("FIELD_ID", "Kim", fieldId=ZERO_ID)]}]
                }
            },
            "fieldId",
        ),
        ({"contactSpecification": {"filters": [{"criterias": [crit("LIST_ID", "not-an-id")]}]}}, "values"),
    ],
)
def test_malformed_searches_are_rejected(env, change, field) -> None:
    body = search_body(env.sid, key_eq("a@example.com")) | change
    r = env.c.post("/api/contact/search", json=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["errorType"] == "ValidationError" and err["field"] == field


def test_one_hundred_key_groups_in_one_request(env) -> None:
    keys = [f"x{i}@example.com" for i in range(98)] + ["b@example.com", "e@example.com"]
    result = run(env, key_eq(*keys))
    assert keys_of(result) == ["b@example.com", "e@example.com"]


def test_deleted_contact_leaves_search(env) -> None:
    env.c.delete(f"/api/contact/{env.ids['c']}")
    assert keys_of(run(env, [[crit("LIST_ID", env.list)]])) == ["a@example.com"]
    assert keys_of(run(env, [[crit("FIELD_ID", "Kim", fieldId=env.first)]])) == ["d@example.com"]


def test_many_groups_are_split_across_statements(env) -> None:
    """600 KEY groups exceed one IN list; 250 LIST_ID groups exceed one compound SELECT."""
    keys = [f"y{i}@example.com" for i in range(598)] + ["a@example.com", "d@example.com"]
    assert keys_of(run(env, key_eq(*keys))) == ["a@example.com", "d@example.com"]
    groups = [[crit("LIST_ID", f"{i:024x}")] for i in range(1, 250)] + [[crit("LIST_ID", env.list)]]
    assert run(env, groups)["totalRecords"] == 2


def test_mixed_groups_count_each_contact_once(env) -> None:
    groups = [
        *key_eq("a@example.com", "c@example.com"),
        [crit("LIST_ID", env.list)],
        [crit("FIELD_ID", "Kim", fieldId=env.first), crit("KEY", "c@example.com")],
    ]
    result = run(env, groups)
    assert keys_of(result) == ["a@example.com", "c@example.com"] and result["totalRecords"] == 2
