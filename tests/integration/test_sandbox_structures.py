"""Sandbox contract: contact structures (docs/reference/benchmark-api.md §5.1, §9.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.sandbox import client_for, default_structure, error_of, field_id, search_body


@pytest.fixture
def api(sandbox) -> Any:
    with client_for(sandbox) as c:
        yield c


def put_body(s: dict[str, Any], **change: Any) -> dict[str, Any]:
    body = {
        "label": s["label"],
        "keyName": s["keyName"],
        "fields": s["fields"],
        "tags": s["tags"],
        "__v": s["__v"],
    }
    return body | change


def test_fresh_database_has_the_default_structure(api) -> None:
    structures = api.get("/api/contact-structure").json()
    assert len(structures) == 1
    s = structures[0]
    assert (
        s["label"] == "Default Contacts"
        and s["keyName"] == "Email"
        and s["keyType"] == "email"
        and s["__v"] == 0
    )
    assert [(f["label"], f["dataType"], f.get("predefinedField")) for f in s["fields"]] == [
        ("First Name", "text", "firstName"),
        ("Last Name", "text", "lastName"),
    ]
    assert api.get(f"/api/contact-structure/{s['_id']}").json() == s


def test_put_adds_keeps_and_deletes_fields(api) -> None:
    s = default_structure(api)
    first = s["fields"][0]
    body = put_body(
        s,
        fields=[
            first,
            {"label": "Company", "dataType": "text"},
            {"label": "Birthday", "dataType": "recurrent_date", "required": False},
        ],
        tags=[{"label": "VIP"}],
    )
    r = api.put(f"/api/contact-structure/{s['_id']}", json=body)
    assert r.status_code == 200
    new = r.json()
    assert new["__v"] == 1 and [f["label"] for f in new["fields"]] == ["First Name", "Company", "Birthday"]
    assert new["fields"][0] == first and all(len(f["_id"]) == 24 for f in new["fields"])
    assert [t["label"] for t in new["tags"]] == ["VIP"] and len(new["tags"][0]["_id"]) == 24
    assert api.get(f"/api/contact-structure/{s['_id']}").json() == new


def test_removed_field_disappears_from_contacts_and_search(api) -> None:
    s = default_structure(api)
    last = field_id(s, "Last Name")
    cid = api.post(
        "/api/contact",
        json={
            "key": "a@example.com",
            "contactStructureId": s["_id"],
            "fields": [{"_id": last, "value": "Smith"}],
        },
    ).json()["_id"]
    api.put(f"/api/contact-structure/{s['_id']}", json=put_body(s, fields=s["fields"][:1]))
    assert api.get(f"/api/contact/{cid}").json()["fields"] == []
    crit = {"columnToFilter": "FIELD_ID", "operator": "EQ", "values": ["Smith"], "fieldId": last}
    r = api.post("/api/contact/search", json=search_body(s["_id"], [[crit]]))
    assert r.status_code == 400 and error_of(r)["fieldId"] == last


@pytest.mark.parametrize(
    ("change", "error_type", "field"),
    [
        ({"__v": 7}, "ConcurrencyError", "__v"),
        ({"__v": None}, "ValidationError", "__v"),
        ({"label": ""}, "ValidationError", "label"),
        ({"keyName": None}, "ValidationError", "keyName"),
        ({"fields": None}, "ValidationError", "fields"),
        ({"fields": [{"label": "Age", "dataType": "integer"}]}, "ValidationError", "fields.dataType"),
        ({"fields": [{"_id": "0" * 24, "label": "Ghost", "dataType": "text"}]}, "ValidationError", "fields"),
        (
            {"fields": [{"label": "A", "dataType": "text"}, {"label": "a", "dataType": "text"}]},
            "ValidationError",
            "fields",
        ),
        ({"tags": [{"label": ""}]}, "ValidationError", "tags.label"),
        ({"keyType": "phone"}, "ValidationError", "keyType"),
    ],
)
def test_put_errors(api, change, error_type, field) -> None:
    s = default_structure(api)
    body = put_body(s, **change)
    for name, value in change.items():
        if value is None:
            del body[name]
    r = api.put(f"/api/contact-structure/{s['_id']}", json=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["errorType"] == error_type and err["field"] == field
    assert default_structure(api) == s
