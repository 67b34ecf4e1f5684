"""Sandbox knobs: loading, and each knob's alternative behaviour over real HTTP; faults; request counts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from etl.clock import FakeClock
from etl.errors import ConfigError
from etl.sandbox.knobs import ApiKey, Knobs, load_knobs
from tests.fixtures.sandbox import client_for, default_structure, error_of, key_eq, search_body


@pytest.fixture
def setup() -> Any:
    """``setup(box)`` → ``(client, default structure)``; clients are closed at teardown."""
    clients: list[httpx.Client] = []

    def start(box: Any) -> tuple[httpx.Client, dict[str, Any]]:
        clients.append(client_for(box))
        return clients[-1], default_structure(clients[-1])

    yield start
    for c in clients:
        c.close()


def new_contact(c: httpx.Client, sid: str, key: str, **extra: Any) -> httpx.Response:
    return c.post("/api/contact", json={"key": key, "contactStructureId": sid, **extra})


# --- loading --------------------------------------------------------------------------------------------------
def test_load_knobs_from_toml_and_json(tmp_path) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text(
        'key_match = "insensitive"\nhourly_limit = 10\nperiod_end = "2027-02-01T00:00:00Z"\n'
        '[api_keys]\nbme_a = ["contacts:read"]\n'
        'bme_b = { scopes = ["contacts:write"], expires_at = "2027-01-01T00:00:00Z" }\n'
    )
    k = load_knobs(toml)
    assert k.key_match == "insensitive" and k.hourly_limit == 10 and k.period_end == 1_801_440_000.0
    assert k.api_keys == {
        "bme_a": ApiKey(frozenset({"contacts:read"})),
        "bme_b": ApiKey(frozenset({"contacts:write"}), 1_798_761_600.0),
    }
    js = tmp_path / "k.json"
    js.write_text(json.dumps({"max_page_size": 25, "eq_multi_values": True}))
    k = load_knobs(js)
    assert k.max_page_size == 25 and k.eq_multi_values and "bme_sandbox_key" in k.api_keys


def test_cli_style_overrides_skip_unset_flags() -> None:
    k = Knobs(hourly_limit=5).with_overrides(hourly_limit=None, monthly_limit=7)
    assert k.hourly_limit == 5 and k.monthly_limit == 7


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"colour": 1}', "unknown sandbox knob"),
        ('{"key_match": "loose"}', "key_match"),
        ('{"max_page_size": 0}', "max_page_size"),
        ('{"fail_rate": 2}', "fail_rate"),
        ('{"api_keys": {}}', "api_keys"),
        ('{"api_keys": {"bme_x": "contacts:read"}}', "api_keys"),
        ('{"period_end": "next tuesday"}', "period_end"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_knobs_are_config_errors(tmp_path, content, match) -> None:
    p = tmp_path / "k.json"
    p.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_knobs(p)


def test_missing_knobs_file_is_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_knobs(tmp_path / "none.toml")


# --- behaviour ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "found"), [("sensitive", 0), ("insensitive", 1)])
def test_key_match(sandbox_factory, setup, mode, found) -> None:
    c, s = setup(sandbox_factory(Knobs(key_match=mode)))
    new_contact(c, s["_id"], "Jane@Example.com")
    r = c.post("/api/contact/search", json=search_body(s["_id"], key_eq("jane@example.com")))
    assert r.json()["totalRecords"] == found
    assert (
        c.post("/api/contact/search", json=search_body(s["_id"], key_eq("Jane@Example.com"))).json()[
            "totalRecords"
        ]
        == 1
    )


@pytest.mark.parametrize(("mode", "status"), [("insensitive", 400), ("sensitive", 200)])
def test_unique_match(sandbox_factory, setup, mode, status) -> None:
    c, s = setup(sandbox_factory(Knobs(unique_match=mode)))
    assert new_contact(c, s["_id"], "jane@example.com").status_code == 200
    assert new_contact(c, s["_id"], "JANE@example.com").status_code == status
    assert new_contact(c, s["_id"], "jane@example.com").status_code == 400


@pytest.mark.parametrize(
    ("mode", "status", "primary"),
    [("accept", 200, "Inactive"), ("ignore", 200, "Active"), ("reject", 400, None)],
)
def test_status_on_create(sandbox_factory, setup, mode, status, primary) -> None:
    c, s = setup(sandbox_factory(Knobs(status_on_create=mode)))
    r = new_contact(c, s["_id"], "a@example.com", status={"primary": "Inactive", "secondary": "Unsubscribe"})
    assert r.status_code == status
    if primary:
        assert r.json()["status"]["primary"] == primary
    else:
        assert error_of(r)["field"] == "status"


@pytest.mark.parametrize(("mode", "kept"), [("accept", 1), ("ignore", 0)])
def test_tags_on_create(sandbox_factory, setup, mode, kept) -> None:
    c, s = setup(sandbox_factory(Knobs(tags_on_create=mode)))
    s = c.put(
        f"/api/contact-structure/{s['_id']}",
        json={
            "label": s["label"],
            "keyName": s["keyName"],
            "fields": s["fields"],
            "tags": [{"label": "VIP"}],
            "__v": 0,
        },
    ).json()
    r = new_contact(c, s["_id"], "a@example.com", tags=[{"_id": s["tags"][0]["_id"]}])
    assert r.status_code == 200 and len(r.json()["tags"]) == kept


@pytest.mark.parametrize(("multi", "status"), [(False, 400), (True, 200)])
def test_eq_multi_values(sandbox_factory, setup, multi, status) -> None:
    c, s = setup(sandbox_factory(Knobs(eq_multi_values=multi)))
    for k in ("a@example.com", "b@example.com", "c@example.com"):
        new_contact(c, s["_id"], k)
    crit = {"columnToFilter": "KEY", "operator": "EQ", "values": ["a@example.com", "c@example.com"]}
    r = c.post("/api/contact/search", json=search_body(s["_id"], [[crit]]))
    assert r.status_code == status
    if multi:
        assert [x["key"] for x in r.json()["contacts"]] == ["a@example.com", "c@example.com"]


@pytest.mark.parametrize(("size", "status"), [(10, 200), (11, 400)])
def test_max_page_size(sandbox_factory, setup, size, status) -> None:
    c, s = setup(sandbox_factory(Knobs(max_page_size=10)))
    r = c.post("/api/contact/search", json=search_body(s["_id"], [], page_size=size))
    assert r.status_code == status


@pytest.mark.parametrize(("strict", "status"), [(True, 400), (False, 200)])
def test_strict_version(sandbox_factory, setup, strict, status) -> None:
    c, s = setup(sandbox_factory(Knobs(strict_version=strict)))
    cid = new_contact(c, s["_id"], "a@example.com").json()["_id"]
    assert c.put(f"/api/contact/{cid}", json={"key": "b@example.com"}).status_code == status
    stale = c.put(f"/api/contact/{cid}", json={"key": "c@example.com", "__v": 9})
    assert stale.status_code == 400 and error_of(stale)["errorType"] == "ConcurrencyError"


# --- faults ---------------------------------------------------------------------------------------------------
def test_fail_rate_answers_500_before_doing_anything(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(fail_rate=1.0))
    with client_for(box) as c:
        r = c.post("/api/contact", json={"key": "a@example.com", "contactStructureId": "0" * 24})
        assert r.status_code == 500 and error_of(r)["errorType"] == "InternalServerError"
        assert httpx.get(box.url + "/api/contact").status_code == 401  # unauthenticated: no fault
    assert box.app.store.count_contacts() == 0


def test_lost_response_applies_the_write_then_drops(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(lost_response_rate=1.0))
    with client_for(box) as c:
        sid = default_structure(c)["_id"]  # reads are never dropped
        with pytest.raises(httpx.TransportError):
            new_contact(c, sid, "a@example.com")
        assert box.app.store.count_contacts() == 1
        again = new_contact(c, sid, "a@example.com")  # a failed write keeps its answer
        assert again.status_code == 400 and error_of(again)["errorType"] == "DuplicateFieldError"
        found = c.post("/api/contact/search", json=search_body(sid, key_eq("a@example.com")))
        assert found.json()["totalRecords"] == 1


def test_faults_are_replayable_with_a_seed(sandbox_factory) -> None:
    def statuses(seed: int) -> list[int]:
        box = sandbox_factory(Knobs(fail_rate=0.5, seed=seed))
        with client_for(box) as c:
            return [c.get("/api/contact").status_code for _ in range(30)]

    first = statuses(7)
    assert first == statuses(7) and {200, 500} == set(first)


def test_latency_sleeps_on_the_injected_clock(sandbox_factory) -> None:
    clock = FakeClock()
    box = sandbox_factory(Knobs(latency_ms=250), clock)
    with client_for(box) as c:
        c.get("/api/contact")
        c.get("/api/contact")
    assert clock.sleeps == [0.25, 0.25]


# --- request counts -------------------------------------------------------------------------------------------
def test_request_counts_by_route_template(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(hourly_limit=6))
    with client_for(box) as c:
        sid = default_structure(c)["_id"]
        cid = new_contact(c, sid, "a@example.com").json()["_id"]
        new_contact(c, sid, "a@example.com")
        c.get(f"/api/contact/{cid}")
        c.post("/api/contact/search", json=search_body(sid, key_eq("a@example.com")))
        c.get(f"/api/contact-structure/{sid}/lists/all")
        c.get("/api/contact")  # 429: still a request the client sent
        httpx.get(box.url + "/api/contact")  # 401: never reached the account
    assert box.app.request_counts() == {
        "GET /api/contact-structure": 1,
        "POST /api/contact": 2,
        "GET /api/contact/{contactId}": 1,
        "POST /api/contact/search": 1,
        "GET /api/contact-structure/{contactStructureId}/lists/all": 1,
        "GET /api/contact": 1,
    }
    box.app.reset_counts()
    assert box.app.request_counts() == {}


def test_scripted_answers_and_the_outage_window(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    """``script``: a route's first requests get the scripted answers in order; ``outage_after``/
    ``outage_seconds``: every request in the window is refused, until the clock leaves it."""
    with pytest.raises(ConfigError, match="script.GET /x: '418'"):
        Knobs(script={"GET /x": ["418"]})
    clock = FakeClock()
    box = sandbox_factory(
        Knobs(script={"GET /api/contact-structure": ["500", "429:30"]}, outage_after=3, outage_seconds=60),
        clock=clock,
    )
    with client_for(box) as c:
        first, second, third = (c.get("/api/contact-structure") for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (500, 429, 200)
        assert second.headers["Retry-After"] == "30"
        assert c.get("/api/contact-structure").status_code == 503  # the fourth request: the outage began
        clock.advance(59)
        assert c.get("/api/contact-structure").status_code == 503
        clock.advance(2)
        assert c.get("/api/contact-structure").status_code == 200
