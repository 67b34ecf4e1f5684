"""Sandbox contract: ``/api/contact`` create, read, PUT, PATCH, DELETE (docs/reference/benchmark-api.md §5.2, §6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from etl.clock import FakeClock
from tests.fixtures.sandbox import client_for, default_structure, error_of, field_id

ZERO_ID = "0" * 24
CONTACT_KEYS = {
    "_id",
    "key",
    "contactStructureId",
    "fields",
    "lists",
    "tags",
    "status",
    "createdAt",
    "updatedAt",
    "__v",
}


@pytest.fixture
def env(sandbox_factory) -> Any:
    """A sandbox on a fake clock with one list and one tag in the default structure."""
    clock = FakeClock(1_800_000_000.0)
    box = sandbox_factory(clock=clock)
    with client_for(box) as c:
        s = default_structure(c)
        body = {
            "label": s["label"],
            "keyName": s["keyName"],
            "fields": s["fields"],
            "tags": [{"label": "VIP"}],
            "__v": s["__v"],
        }
        s = c.put(f"/api/contact-structure/{s['_id']}", json=body).json()
        lst = c.post(f"/api/contact-structure/{s['_id']}/lists", json={"name": "News"}).json()
        yield type(
            "Env",
            (),
            {
                "c": c,
                "s": s,
                "sid": s["_id"],
                "first": field_id(s, "First Name"),
                "list": lst["_id"],
                "tag": s["tags"][0]["_id"],
                "clock": clock,
                "box": box,
            },
        )


def create(env: Any, key: str = "jane@example.com", **extra: Any) -> httpx.Response:
    return env.c.post("/api/contact", json={"key": key, "contactStructureId": env.sid, **extra})


def test_create_returns_200_with_the_full_contact(env) -> None:
    r = create(
        env, fields=[{"_id": env.first, "value": "Jane"}], lists=[{"_id": env.list}], tags=[{"_id": env.tag}]
    )
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == CONTACT_KEYS
    assert len(doc["_id"]) == 24 and doc["key"] == "jane@example.com" and doc["contactStructureId"] == env.sid
    assert doc["fields"] == [{"_id": env.first, "value": "Jane"}]
    assert doc["lists"] == [{"_id": env.list}] and doc["tags"] == [{"_id": env.tag}]
    assert doc["status"] == {"primary": "Active"} and doc["__v"] == 0
    assert doc["createdAt"] == doc["updatedAt"] == "2027-01-15T08:00:00.000Z"
    assert env.c.get(f"/api/contact/{doc['_id']}").json() == doc


def test_create_inactive_with_secondary(env) -> None:
    r = create(env, status={"primary": "Inactive", "secondary": "Unsubscribe"})
    assert r.status_code == 200 and r.json()["status"] == {"primary": "Inactive", "secondary": "Unsubscribe"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contactStructureId": "{sid}"}, "key"),
        ({"key": "a@example.com"}, "contactStructureId"),
        ({"key": "not-an-email", "contactStructureId": "{sid}"}, "key"),
        ({"key": 5, "contactStructureId": "{sid}"}, "key"),
        ({"key": "a@example.com", "contactStructureId": "nope"}, "contactStructureId"),
        ({"key": "a@example.com", "contactStructureId": ZERO_ID}, "contactStructureId"),
        ({"key": "a@example.com", "contactStructureId": "{sid}", "listIds": ["{list}"]}, "listIds"),
        ({"key": "a@example.com", "contactStructureId": "{sid}", "fields": {"a": 1}}, "fields"),
        (
            {"key": "a@example.com", "contactStructureId": "{sid}", "status": {"primary": "active"}},
            "status.primary",
        ),
        (
            {"key": "a@example.com", "contactStructureId": "{sid}", "status": {"primary": "Inactive"}},
            "status.secondary",
        ),
        (
            {
                "key": "a@example.com",
                "contactStructureId": "{sid}",
                "status": {"primary": "Inactive", "secondary": "unsubscribe"},
            },
            "status.secondary",
        ),
        (
            {
                "key": "a@example.com",
                "contactStructureId": "{sid}",
                "status": {"primary": "Active", "secondary": "confirmed"},
            },
            "status.secondary",
        ),
    ],
)
def test_create_validation_errors(env, body, field) -> None:
    filled = {k: (v.format(sid=env.sid) if isinstance(v, str) else v) for k, v in body.items()}
    if "listIds" in filled:
        filled["listIds"] = [env.list]
    r = env.c.post("/api/contact", json=filled)
    assert r.status_code == 400
    err = error_of(r)
    assert err["errorType"] == "ValidationError" and err["field"] == field


@pytest.mark.parametrize("kind", ["fields", "lists", "tags"])
def test_unknown_reference_ids_name_the_id(env, kind) -> None:
    item = {"_id": ZERO_ID, "value": "x"} if kind == "fields" else {"_id": ZERO_ID}
    r = create(env, **{kind: [item]})
    assert r.status_code == 400
    assert error_of(r) | {"message": ""} == {
        "errorType": "ValidationError",
        "message": "",
        "field": kind,
        "fieldId": ZERO_ID,
    }


@pytest.mark.parametrize("second", ["jane@example.com", "Jane@Example.com", "JANE@EXAMPLE.COM"])
def test_duplicate_key_in_structure_is_duplicate_field_error(env, second) -> None:
    assert create(env, "jane@example.com").status_code == 200
    r = create(env, second)
    assert r.status_code == 400 and error_of(r)["errorType"] == "DuplicateFieldError"
    assert len(env.c.get("/api/contact").json()) == 1


def test_get_all_is_an_array_of_every_contact(env) -> None:
    ids = [create(env, f"p{i}@example.com").json()["_id"] for i in range(3)]
    r = env.c.get("/api/contact")
    assert r.status_code == 200 and [d["_id"] for d in r.json()] == ids


def test_put_replaces_everything_and_bumps_v(env) -> None:
    doc = create(
        env, fields=[{"_id": env.first, "value": "Jane"}], lists=[{"_id": env.list}], tags=[{"_id": env.tag}]
    ).json()
    env.clock.advance(60)
    r = env.c.put(
        f"/api/contact/{doc['_id']}",
        json={"key": "jane.new@example.com", "__v": 0, "fields": [{"_id": env.first, "value": "J"}]},
    )
    assert r.status_code == 200
    new = r.json()
    assert new["key"] == "jane.new@example.com" and new["fields"] == [{"_id": env.first, "value": "J"}]
    assert new["lists"] == [] and new["tags"] == [] and new["__v"] == 1
    assert new["createdAt"] == doc["createdAt"] and new["updatedAt"] == "2027-01-15T08:01:00.000Z"
    assert new["status"] == {"primary": "Active"}
    assert env.c.get(f"/api/contact/{doc['_id']}").json() == new


def test_put_round_trips_a_fetched_document(env) -> None:
    doc = create(env, lists=[{"_id": env.list}]).json()
    r = env.c.put(f"/api/contact/{doc['_id']}", json=doc)
    assert r.status_code == 200 and r.json()["__v"] == 1 and r.json()["lists"] == doc["lists"]


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ({"key": "jane@example.com", "__v": 5}, 400, "ConcurrencyError"),
        ({"key": "jane@example.com"}, 400, "ValidationError"),  # strict_version: __v required
        ({"key": "jane@example.com", "__v": "0"}, 400, "ValidationError"),
        ({"__v": 0}, 400, "ValidationError"),
        ({"key": "jane@example.com", "__v": 0, "contactStructureId": ZERO_ID}, 400, "ValidationError"),
        ({"key": "jane@example.com", "__v": 0, "status": {"primary": "Inactive"}}, 400, "ValidationError"),
        ({"key": "other@example.com", "__v": 0}, 400, "DuplicateFieldError"),
        ({"key": "OTHER@example.com", "__v": 0}, 400, "DuplicateFieldError"),
    ],
)
def test_put_errors(env, body, status, error_type) -> None:
    cid = create(env).json()["_id"]
    create(env, "other@example.com")
    r = env.c.put(f"/api/contact/{cid}", json=body)
    assert r.status_code == status and error_of(r)["errorType"] == error_type
    assert env.c.get(f"/api/contact/{cid}").json()["__v"] == 0


def test_put_unknown_contact_is_404(env) -> None:
    r = env.c.put(f"/api/contact/{ZERO_ID}", json={"key": "a@example.com", "__v": 0})
    assert r.status_code == 404 and error_of(r)["errorType"] == "RecordNotFound"


def test_patch_unsubscribes_and_bumps_v(env) -> None:
    cid = create(env, lists=[{"_id": env.list}]).json()["_id"]
    r = env.c.patch(
        f"/api/contact/{cid}", json={"status": {"primary": "Inactive", "secondary": "Unsubscribe"}}
    )
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == {"primary": "Inactive", "secondary": "Unsubscribe"} and doc["__v"] == 1
    assert doc["lists"] == [{"_id": env.list}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": {"primary": "Inactive", "secondary": "Unsubscribe"}, "key": "x@example.com"}, "key"),
        ({"status": {"primary": "Inactive", "secondary": "Unsubscribe"}, "__v": 0}, "__v"),
        ({"fields": []}, "fields"),
        ({}, "status"),
        ({"status": {"primary": "inactive", "secondary": "Unsubscribe"}}, "status.primary"),
        ({"status": {"primary": "Inactive"}}, "status.secondary"),
        ({"status": "Inactive"}, "status"),
    ],
)
def test_patch_accepts_only_a_valid_status(env, body, field) -> None:
    cid = create(env).json()["_id"]
    r = env.c.patch(f"/api/contact/{cid}", json=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["errorType"] == "ValidationError" and err["field"] == field


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_inactive_is_never_reactivated(env, method) -> None:
    doc = create(env, status={"primary": "Inactive", "secondary": "Unsubscribe"}).json()
    body: dict[str, Any] = {"status": {"primary": "Active"}}
    if method == "PUT":
        body |= {"key": doc["key"], "__v": doc["__v"]}
    r = env.c.request(method, f"/api/contact/{doc['_id']}", json=body)
    assert r.status_code == 400 and error_of(r)["errorType"] == "ValidationError"
    assert env.c.get(f"/api/contact/{doc['_id']}").json()["status"]["primary"] == "Inactive"


def test_put_without_status_keeps_inactive(env) -> None:
    doc = create(env, status={"primary": "Inactive", "secondary": "Unsubscribe"}).json()
    r = env.c.put(f"/api/contact/{doc['_id']}", json={"key": doc["key"], "__v": 0})
    assert r.status_code == 200 and r.json()["status"] == {"primary": "Inactive", "secondary": "Unsubscribe"}


def test_delete_returns_the_deleted_contact_then_404(env) -> None:
    doc = create(env, lists=[{"_id": env.list}]).json()
    r = env.c.delete(f"/api/contact/{doc['_id']}")
    assert r.status_code == 200 and r.json() == doc
    assert env.c.get(f"/api/contact/{doc['_id']}").status_code == 404
    assert env.c.delete(f"/api/contact/{doc['_id']}").status_code == 404
    lst = env.c.get(f"/api/contact-structure/{env.sid}/lists/{env.list}").json()
    assert lst["totalContacts"] == 0
    assert create(env).status_code == 200  # the key is free again


def test_field_values_are_stored_as_strings(env) -> None:
    r = create(env, fields=[{"_id": env.first, "value": 42}])
    assert r.json()["fields"] == [{"_id": env.first, "value": "42"}]
    r = create(env, "b@example.com", fields=[{"_id": env.first, "value": {"x": 1}}])
    assert r.status_code == 400 and error_of(r)["fieldId"] == env.first
