"""Contract of the legacy contacts-API emulator over real HTTP: every endpoint, every error code."""

from __future__ import annotations

import uuid

import httpx
import pytest

from etl.clock import FakeClock
from tests.fixtures.legacy import LegacyFactory, LegacyServer

PATH = "/api/v1/contacts"


def client(api: LegacyServer, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token or api.token}"})


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]


@pytest.fixture
def small(legacy_api_factory: LegacyFactory) -> LegacyServer:
    return legacy_api_factory(contacts=30, clock=FakeClock())


def test_list_defaults_envelope_and_created_order(small: LegacyServer) -> None:
    with client(small) as c:
        body = c.get(PATH).json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"], len(body["data"])) == (30, 50, 0, 30)
    assert [r["email"] for r in body["data"]] == [r["email"] for r in small.app.contacts()]
    first = body["data"][0]
    assert set(first) == {
        "id",
        "email",
        "first_name",
        "last_name",
        "status",
        "properties",
        "created_at",
        "updated_at",
    }
    assert uuid.UUID(first["id"]).version == 4
    assert set(first["properties"]) >= {"company", "city", "signup_source", "signup_date"}
    created = [r["created_at"] for r in body["data"]]
    assert created == sorted(created)


def test_paging_with_limit_and_offset_covers_everything_once(small: LegacyServer) -> None:
    seen: list[str] = []
    with client(small) as c:
        for offset in range(0, 30, 8):
            page = c.get(PATH, params={"limit": 8, "offset": offset}).json()
            assert (page["limit"], page["offset"], page["total"]) == (8, offset, 30)
            seen += [r["id"] for r in page["data"]]
        assert c.get(PATH, params={"offset": 30}).json()["data"] == []
    assert len(seen) == len(set(seen)) == 30
    assert small.app.served_list_offsets() == [0, 8, 16, 24, 30]


def test_status_and_search_filters(small: LegacyServer) -> None:
    with client(small) as c:
        unsub = c.get(PATH, params={"status": "unsubscribed"}).json()
        sub = c.get(PATH, params={"status": "subscribed", "limit": 200}).json()
        found = c.get(PATH, params={"search": "ANA.ALMEIDA"}).json()
    assert unsub["total"] == 4 and {r["status"] for r in unsub["data"]} == {"unsubscribed"}  # every 7th
    assert sub["total"] == 26
    assert found["total"] >= 1 and all("ana.almeida" in r["email"].lower() for r in found["data"])


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "201"},
        {"limit": "0"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"status": "cleaned"},
        {"limit": ""},
    ],
)
def test_bad_query_parameters_are_invalid_request(small: LegacyServer, query: dict[str, str]) -> None:
    with client(small) as c:
        r = c.get(PATH, params=query)
    assert r.status_code == 400 and error_code(r) == "invalid_request"


def test_limit_200_is_allowed(legacy_api: LegacyServer) -> None:
    with client(legacy_api) as c:
        assert len(c.get(PATH, params={"limit": 200}).json()["data"]) == 200


@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic legacy_token", "Bearer"])
def test_missing_or_invalid_token_is_401(small: LegacyServer, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    with httpx.Client(base_url=small.url, headers=headers) as c:
        for r in (
            c.get(PATH),
            c.post(PATH, json={"email": "a@example.com"}),
            c.get(f"{PATH}/{uuid.uuid4()}"),
        ):
            assert r.status_code == 401 and error_code(r) == "unauthorized"


def test_create_get_patch_delete_round_trip(small: LegacyServer) -> None:
    with client(small) as c:
        r = c.post(
            PATH,
            json={
                "email": "New.Person@Example.com",
                "first_name": "New",
                "properties": {"plan": "pro", "seats": 3},
            },
        )
        assert r.status_code == 201
        created = r.json()
        assert created["status"] == "subscribed" and created["last_name"] is None
        assert created["created_at"] == created["updated_at"]
        cid = created["id"]
        assert c.get(f"{PATH}/{cid}").json() == created
        assert c.get(PATH, params={"offset": 30}).json()["data"] == [created]  # appended: created order

        r = c.patch(
            f"{PATH}/{cid}",
            json={
                "last_name": "Person",
                "status": "unsubscribed",
                "properties": {"seats": 5, "city": "Porto"},
            },
        )
        assert r.status_code == 200
        patched = r.json()
        assert patched["first_name"] == "New" and patched["last_name"] == "Person"
        assert patched["status"] == "unsubscribed"
        assert patched["properties"] == {"plan": "pro", "seats": 5, "city": "Porto"}  # merged, not replaced
        assert c.patch(f"{PATH}/{cid}", json={"email": "new.person@example.com"}).status_code == 200  # same

        r = c.delete(f"{PATH}/{cid}")
        assert r.status_code == 204 and r.content == b""
        r = c.get(f"{PATH}/{cid}")
        assert r.status_code == 404 and error_code(r) == "not_found"
        assert c.delete(f"{PATH}/{cid}").status_code == 404
        assert c.post(PATH, json={"email": "new.person@example.com"}).status_code == 201  # email freed


def test_duplicate_email_is_conflict_case_insensitively(small: LegacyServer) -> None:
    existing = small.app.contacts()[3]["email"]
    with client(small) as c:
        r = c.post(PATH, json={"email": existing.upper()})
    assert r.status_code == 409 and error_code(r) == "conflict"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "a@example.com", "status": "cleaned"}, "status"),
        ({"email": "a@example.com", "properties": ["x"]}, "properties"),
        ({"email": "a@example.com", "first_name": 7}, "first_name"),
        ({"email": "a@example.com", "tags": ["x"]}, "tags"),
    ],
)
def test_create_validation_errors(small: LegacyServer, body: dict, field: str) -> None:
    with client(small) as c:
        r = c.post(PATH, json=body)
    assert (
        r.status_code == 400 and error_code(r) == "validation_error" and r.json()["error"]["field"] == field
    )


def test_malformed_json_is_invalid_request(small: LegacyServer) -> None:
    cid = small.app.contacts()[0]["id"]
    with client(small) as c:
        for r in (
            c.post(PATH, content=b"{nope"),
            c.post(PATH, json=["a"]),
            c.patch(f"{PATH}/{cid}", content=b"["),
        ):
            assert r.status_code == 400 and error_code(r) == "invalid_request"


def test_patch_cannot_change_email_or_set_bad_values(small: LegacyServer) -> None:
    cid = small.app.contacts()[0]["id"]
    with client(small) as c:
        r = c.patch(f"{PATH}/{cid}", json={"email": "other@example.com"})
        assert (
            r.status_code == 400
            and error_code(r) == "validation_error"
            and r.json()["error"]["field"] == "email"
        )
        r = c.patch(f"{PATH}/{cid}", json={"properties": "x"})
        assert r.status_code == 400 and error_code(r) == "validation_error"
        r = c.patch(f"{PATH}/{uuid.uuid4()}", json={"first_name": "x"})
        assert r.status_code == 404 and error_code(r) == "not_found"


def test_workspaces_are_isolated(legacy_api_factory: LegacyFactory) -> None:
    api = legacy_api_factory(tokens={"tok_a": "ws-a", "tok_b": "ws-b"})
    api.app.seed_contacts(5, workspace="ws-a")
    with client(api, "tok_a") as a, client(api, "tok_b") as b:
        theirs = a.get(PATH).json()["data"][0]
        assert b.get(PATH).json() == {"data": [], "total": 0, "limit": 50, "offset": 0}
        for r in (
            b.get(f"{PATH}/{theirs['id']}"),
            b.patch(f"{PATH}/{theirs['id']}", json={}),
            b.delete(f"{PATH}/{theirs['id']}"),
        ):
            assert r.status_code == 404 and error_code(r) == "not_found"
        assert b.post(PATH, json={"email": theirs["email"]}).status_code == 201  # unique per workspace only


def test_unknown_route_and_method(small: LegacyServer) -> None:
    with client(small) as c:
        r = c.get("/api/v2/contacts")
        assert r.status_code == 404 and error_code(r) == "not_found"
        r = c.put(PATH, json={})
        assert r.status_code == 405 and error_code(r) == "invalid_request"


def test_forced_failures_fail_at_fail_offsets_and_retry_after(legacy_api_factory: LegacyFactory) -> None:
    api = legacy_api_factory(contacts=10, fail_at={1}, fail_offsets={5}, retry_after=3)
    with client(api) as c:
        assert c.get(PATH).status_code == 200
        r = c.get(PATH)
        assert r.status_code == 500 and error_code(r) == "internal_error" and r.headers["Retry-After"] == "3"
        r = c.get(PATH, params={"offset": 5})
        assert r.status_code == 500 and error_code(r) == "internal_error"
        assert c.get(PATH, params={"offset": 5}).status_code == 200  # an offset fails once only
    assert api.app.statuses == [200, 500, 500, 200]
    assert [q.query.get("offset") for q in api.app.requests] == [None, None, "5", "5"]


def test_fail_rate_is_seeded_and_writes_are_not_applied(legacy_api_factory: LegacyFactory) -> None:
    runs = []
    for _ in range(2):
        api = legacy_api_factory(fail_rate=0.3, seed=42)
        with client(api) as c:
            statuses = [c.post(PATH, json={"email": f"p{i}@example.com"}).status_code for i in range(40)]
        runs.append(statuses)
        assert set(statuses) == {201, 500}
        assert len(api.app.contacts()) == statuses.count(201)  # a 500 changed nothing
    assert runs[0] == runs[1]


def test_dropped_connection(legacy_api_factory: LegacyFactory) -> None:
    api = legacy_api_factory(contacts=3, drop_at={0})
    with client(api) as c:
        with pytest.raises(httpx.TransportError):
            c.get(PATH)
        assert c.get(PATH).status_code == 200
    assert api.app.statuses == [0, 200]


def test_bare_array_envelope(legacy_api_factory: LegacyFactory) -> None:
    api = legacy_api_factory(contacts=5, envelope="array")
    with client(api) as c:
        body = c.get(PATH, params={"limit": 2, "offset": 4}).json()
    assert isinstance(body, list) and len(body) == 1


def test_seeded_data_is_deterministic_and_realistic(legacy_api_factory: LegacyFactory) -> None:
    clock = FakeClock()
    a = legacy_api_factory(contacts=50, clock=clock).app.contacts()
    b = legacy_api_factory(contacts=50, clock=clock).app.contacts()
    assert a == b
    assert len({c["email"].lower() for c in a}) == 50
    assert sum(c["status"] == "unsubscribed" for c in a) == 7
    assert any("plan" not in c["properties"] for c in a) and any("vip" in c["properties"] for c in a)
    assert any(c["email"] != c["email"].lower() for c in a)


def test_a_case_variant_is_a_second_contact_listed_next_to_the_first(small: LegacyServer) -> None:
    original = small.app.contacts()[6]
    variant = small.app.add_case_variant(original["id"], status="subscribed")
    after = small.app.add_case_variant(original["id"], status="unsubscribed", listed_first=False)
    assert variant["email"].lower() == original["email"].lower() != variant["email"]
    assert variant["id"] != original["id"] and variant["updated_at"] > original["updated_at"]
    assert variant["properties"] == original["properties"] and variant["first_name"] == original["first_name"]
    with client(small) as c:
        listed = c.get(PATH, params={"limit": 200}).json()
        assert listed["total"] == 32
        assert [r["id"] for r in listed["data"][6:9]] == [variant["id"], original["id"], after["id"]]
        assert [r["status"] for r in listed["data"][6:9]] == ["subscribed", "unsubscribed", "unsubscribed"]
        assert c.post(PATH, json={"email": original["email"]}).status_code == 409
        assert c.delete(f"{PATH}/{original['id']}").status_code == 204
        assert c.post(PATH, json={"email": original["email"]}).status_code == 409  # the variants hold it
        assert c.delete(f"{PATH}/{variant['id']}").status_code == 204
        assert c.delete(f"{PATH}/{after['id']}").status_code == 204
        assert c.post(PATH, json={"email": original["email"]}).status_code == 201
    with pytest.raises(KeyError):
        small.app.add_case_variant("no-such-id")


def test_move_after_page_changes_status_and_relists_once_the_page_is_served(small: LegacyServer) -> None:
    before = small.app.contacts()
    mover = before[2]
    small.app.move_after_page(0, mover["id"], status="unsubscribed")
    with client(small) as c:
        first = c.get(PATH, params={"limit": 10}).json()
        assert first["data"][2] == mover  # served as it was: the move happens after the page
        rest = c.get(PATH, params={"limit": 10, "offset": 10}).json()
        again = c.get(PATH, params={"limit": 10}).json()  # a move happens once
        tail = c.get(PATH, params={"limit": 1, "offset": 29}).json()["data"]
    assert rest["total"] == first["total"] == 30
    assert rest["data"][0]["id"] == before[11]["id"]  # shifted left by one: before[10] is never listed
    assert mover["id"] not in [r["id"] for r in again["data"]]
    (moved,) = tail
    assert moved["id"] == mover["id"] and moved["status"] == "unsubscribed"
    assert moved["updated_at"] > mover["updated_at"] and moved["created_at"] == mover["created_at"]
    with pytest.raises(ValueError, match="status"):
        small.app.move_after_page(0, mover["id"], status="cleaned")
