"""Sandbox contract: authentication, scopes, routing and the error envelope (docs/reference/benchmark-api.md §2, §3, §11)."""

from __future__ import annotations

import httpx
import pytest

from etl.clock import FakeClock
from etl.errors import ConfigError
from etl.sandbox.knobs import ALL_SCOPES, ApiKey, Knobs
from tests.fixtures.sandbox import client_for, default_structure, error_of, search_body

ZERO_ID = "0" * 24


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "bme_unknown"},
        {"X-API-Key": "BME_SANDBOX_KEY"},
        {"Authorization": "Bearer bme_sandbox_key"},
    ],
    ids=["missing", "empty", "unknown", "wrong-case", "bearer"],
)
def test_missing_or_unknown_key_is_401(sandbox, headers) -> None:
    r = httpx.get(sandbox.url + "/api/contact-structure", headers=headers)
    assert r.status_code == 401
    assert error_of(r) == {"errorType": "UnauthorizedError", "message": "Invalid API key"}
    assert "X-RateLimit-Remaining" not in r.headers


def test_expired_key_is_401_api_key_expired(sandbox_factory) -> None:
    clock = FakeClock(1_800_000_000)
    keys = {"bme_soon": ApiKey(ALL_SCOPES, expires_at=1_800_000_100)}
    box = sandbox_factory(Knobs(api_keys=keys), clock)
    with client_for(box, "bme_soon") as c:
        assert c.get("/api/contact-structure").status_code == 200
        clock.advance(100)
        r = c.get("/api/contact-structure")
    assert r.status_code == 401
    assert error_of(r) == {"errorType": "UnauthorizedError", "message": "API key expired"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/contact", {"key": "a@example.com", "contactStructureId": ZERO_ID}),
        ("PUT", f"/api/contact/{ZERO_ID}", {}),
        ("PATCH", f"/api/contact/{ZERO_ID}", {}),
        ("DELETE", f"/api/contact/{ZERO_ID}", None),
        ("PUT", "/api/contact-structure/{sid}", {}),
        ("POST", "/api/contact-structure/{sid}/lists", {"name": "x"}),
        ("PATCH", "/api/contact-structure/{sid}/lists/" + ZERO_ID, {"name": "x"}),
        ("DELETE", "/api/contact-structure/{sid}/lists/" + ZERO_ID, None),
    ],
)
def test_read_only_key_cannot_write(sandbox, method, path, body) -> None:
    with client_for(sandbox) as admin, client_for(sandbox, "bme_sandbox_readonly") as ro:
        sid = default_structure(admin)["_id"]
        r = ro.request(method, path.format(sid=sid), json=body)
    assert r.status_code == 403
    assert error_of(r) == {
        "errorType": "ForbiddenError",
        "message": "API key missing required scope: contacts:write",
    }


def test_read_only_key_reads_and_searches(sandbox) -> None:
    """Search is a POST but needs only contacts:read."""
    with client_for(sandbox, "bme_sandbox_readonly") as ro:
        sid = default_structure(ro)["_id"]
        assert ro.get("/api/contact").status_code == 200
        assert ro.get(f"/api/contact-structure/{sid}/lists").status_code == 200
        assert ro.post("/api/contact/search", json=search_body(sid, [])).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "status"),
    [(["contacts:write"], 200), (["contacts:read"], 200), (["campaigns:write"], 403), ([], 403)],
)
def test_write_scope_implies_read(sandbox_factory, scopes, status) -> None:
    box = sandbox_factory(Knobs(api_keys={"bme_custom": scopes}))
    with client_for(box, "bme_custom") as c:
        r = c.get("/api/contact")
    assert r.status_code == status
    if status == 403:
        assert error_of(r)["message"] == "API key missing required scope: contacts:read"


def test_missing_scope_status_knob_acts_out_the_401_reading(sandbox_factory) -> None:
    """The reference documents 403 for a missing scope; the knob lets a client be tested against a 401 that
    names the scope too (same message), while an unknown key stays the plain 401."""
    box = sandbox_factory(Knobs(api_keys={"bme_ro": ["contacts:read"]}, missing_scope_status=401))
    with client_for(box, "bme_ro") as ro:
        sid = default_structure(ro)["_id"]
        r = ro.put(f"/api/contact-structure/{sid}", json={})
    assert r.status_code == 401
    assert error_of(r) == {
        "errorType": "UnauthorizedError",
        "message": "API key missing required scope: contacts:write",
    }
    with pytest.raises(ConfigError, match="missing_scope_status must be 401 or 403"):
        Knobs(missing_scope_status=404)


def test_creating_a_structure_is_forbidden(sandbox) -> None:
    with client_for(sandbox) as c:
        r = c.post("/api/contact-structure", json={"label": "Mine", "keyName": "Email", "fields": []})
    assert r.status_code == 403 and error_of(r)["errorType"] == "ForbiddenError"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nothing"),
        ("GET", "/"),
        ("POST", "/api/contact/x/y"),
        ("GET", "/api/contact/search/extra"),
        ("PUT", "/api/contact"),
    ],
)
def test_unknown_route_is_404(sandbox, method, path) -> None:
    with client_for(sandbox) as c:
        r = c.request(method, path)
    assert r.status_code == 404 and error_of(r)["errorType"] == "RecordNotFound"


@pytest.mark.parametrize(
    "path",
    [
        "/api/contact/{bad}",
        "/api/contact-structure/{bad}",
        "/api/contact-structure/{sid}/lists/{bad}",
        "/api/contact-structure/{bad}/lists",
    ],
)
@pytest.mark.parametrize("bad", ["123", "zzzzzzzzzzzzzzzzzzzzzzzz", "64A1B2C3D4E5F6A7B8C9D0E1"])
def test_malformed_ids_are_400(sandbox, path, bad) -> None:
    with client_for(sandbox) as c:
        sid = default_structure(c)["_id"]
        r = c.get(path.format(bad=bad, sid=sid))
    assert r.status_code == 400 and error_of(r)["errorType"] == "ValidationError"


@pytest.mark.parametrize(
    "path",
    [
        "/api/contact/{z}",
        "/api/contact-structure/{z}",
        "/api/contact-structure/{sid}/lists/{z}",
        "/api/contact-structure/{z}/lists",
    ],
)
def test_unknown_ids_are_404_record_not_found(sandbox, path) -> None:
    with client_for(sandbox) as c:
        sid = default_structure(c)["_id"]
        r = c.get(path.format(z=ZERO_ID, sid=sid))
    assert r.status_code == 404 and error_of(r)["errorType"] == "RecordNotFound"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_bad_json_body_is_validation_error(sandbox, body) -> None:
    with client_for(sandbox) as c:
        r = c.post("/api/contact", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["errorType"] == "ValidationError"
