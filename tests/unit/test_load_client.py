"""The client's parsing and retry policy, driven through ``httpx.MockTransport`` (no server needed)."""

from __future__ import annotations

import random
from contextlib import nullcontext
from typing import Any

import httpx
import pytest

from etl.benchmark.client import (
    BenchmarkClient,
    DuplicateKey,
    InvalidRequest,
    NotFound,
    RateState,
    StaleVersion,
    classify,
)
from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import AuthError, FatalLoadError, Paused, RetriableLoadError

KEY = "bme_us_SECRETSECRETSECRET0123456789abcdefghijklmn"
NOW = 1_800_000_000.0


def _resp(
    status: int,
    error_type: str | None = None,
    message: str = "",
    headers: dict[str, str] | None = None,
    field: str | None = None,
) -> httpx.Response:
    body: Any = None
    if error_type is not None:
        item = {"errorType": error_type, "message": message}
        if field:
            item["field"] = field
        body = {"errors": [item]}
    return httpx.Response(status, json=body, headers=headers or {})


CASES = [
    ("ok", _resp(200), None),
    ("server-error", _resp(500), RetriableLoadError),
    ("bad-gateway-no-body", httpx.Response(502, text="<html>"), RetriableLoadError),
    (
        "hourly-429",
        _resp(
            429,
            "TooManyRequestsError",
            "Rate limit exceeded. Retry after 45 seconds.",
            {"Retry-After": "45", "X-RateLimit-Remaining": "0"},
        ),
        RetriableLoadError,
    ),
    (
        "monthly-429-message",
        _resp(429, "TooManyRequestsError", "Monthly API quota exceeded.", {"Retry-After": "120"}),
        Paused,
    ),
    (
        "monthly-429-header",
        _resp(429, "TooManyRequestsError", "quota", {"X-Monthly-Remaining": "0", "Retry-After": "60"}),
        Paused,
    ),
    (
        "monthly-429-long-wait",
        _resp(429, "TooManyRequestsError", "slow down", {"Retry-After": "86400"}),
        Paused,
    ),
    ("unauthorized", _resp(401, "UnauthorizedError", "Invalid API key"), AuthError),
    (
        "forbidden-scope",
        _resp(403, "ForbiddenError", "API key missing required scope: contacts:write"),
        AuthError,
    ),
    ("not-found", _resp(404, "RecordNotFound", "Contact x not found"), NotFound),
    ("duplicate", _resp(400, "DuplicateFieldError", "exists", field="key"), DuplicateKey),
    ("stale", _resp(400, "ConcurrencyError", "stale", field="__v"), StaleVersion),
    ("invalid", _resp(400, "ValidationError", "bad", field="status"), InvalidRequest),
    ("teapot", _resp(418, "Teapot", "no"), FatalLoadError),
]


@pytest.mark.parametrize(("response", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify_maps_status_and_error_type(response: httpx.Response, expected: type | None) -> None:
    exc = classify(response, now=NOW)
    with pytest.raises(expected) if expected else nullcontext():
        if exc is not None:
            raise exc


def test_a_403_naming_no_scope_is_not_blamed_on_the_key() -> None:
    """A 403 for account standing or an endpoint closed to keys (the reference's other 403s) names the scope
    the endpoint needs as one thing to check, and the account's API access as the other: the key was
    accepted, so the message must not call it refused or say it lacks a scope it may well have."""
    standing = classify(
        _resp(403, "ForbiddenError", "Account does not have API access"),
        now=NOW,
        endpoint="POST /api/contact",
        key="the API key from BME_API_KEY",
    )
    text = str(standing)
    assert isinstance(standing, AuthError) and standing.exit_code == 4
    assert "the API key from BME_API_KEY was accepted but the account refused creating contacts" in text
    assert "check that the key has the contacts:write scope creating contacts needs" in text
    assert "Account does not have API access" in text and "lacks" not in text and "was refused" not in text
    unlisted = str(classify(_resp(403, "ForbiddenError", "no"), now=NOW, endpoint="GET /api/reports/x"))
    assert (
        "refused GET /api/reports/x (403 ForbiddenError: no): check that the account is in good" in unlisted
    )


def test_classify_details() -> None:
    forbidden = classify(
        _resp(403, "ForbiddenError", "API key missing required scope: contacts:write"), now=NOW
    )
    assert (
        isinstance(forbidden, AuthError) and "contacts:write" in str(forbidden) and forbidden.exit_code == 4
    )
    monthly = classify(
        _resp(429, "TooManyRequestsError", "Monthly API quota exceeded.", {"Retry-After": "3600"}), now=NOW
    )
    assert isinstance(monthly, Paused) and monthly.resume_after == "2027-01-15T09:00:00Z"
    hourly = classify(_resp(429, "TooManyRequestsError", "Rate limit", {"Retry-After": "45"}), now=NOW)
    assert isinstance(hourly, RetriableLoadError) and hourly.retry_after == 45
    invalid = classify(_resp(400, "ValidationError", "bad", field="pageSize"), now=NOW)
    assert isinstance(invalid, InvalidRequest) and invalid.field == "pageSize"


def test_rate_state_parses_every_header() -> None:
    state = RateState.from_headers(
        httpx.Headers(
            {
                "X-RateLimit-Limit": "3600",
                "X-RateLimit-Remaining": "3542",
                "X-RateLimit-Reset": "1711828800",
                "X-Monthly-Limit": "100000",
                "X-Monthly-Remaining": "98750",
            }
        )
    )
    assert state == RateState(3600, 3542, 1711828800.0, 100000, 98750)
    assert RateState.from_headers(httpx.Headers({"X-RateLimit-Limit": "n/a"})).empty


class Script:
    """A MockTransport handler answering from a list, recording what it saw."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(script: Script, clock: FakeClock, **kw: Any) -> BenchmarkClient:
    return BenchmarkClient(
        "https://api.example.test",
        Secret(KEY),
        transport=httpx.MockTransport(script),
        clock=clock,
        rng=random.Random(1),
        **kw,
    )


def test_retries_5xx_and_network_errors_with_capped_backoff(fake_clock: FakeClock) -> None:
    script = Script(_resp(500), httpx.ReadError("boom"), _resp(503), httpx.Response(200, json={"_id": "a"}))
    counted: list[str] = []
    client = _client(script, fake_clock, on_request=counted.append, backoff_base=1, backoff_cap=3)
    assert client.create_contact({"key": "a@b.c"}) == {"_id": "a"}
    assert len(script.seen) == 4 and counted == ["POST /api/contact"] * 4
    assert client.ambiguous  # a write attempt went out and its answer was lost
    assert len(fake_clock.sleeps) == 3
    for attempt, slept in enumerate(fake_clock.sleeps, start=1):
        cap = min(3, 2 ** (attempt - 1))
        assert cap / 2 <= slept <= cap
    assert script.seen[0].headers["X-API-Key"] == KEY


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_never_retries_client_errors(fake_clock: FakeClock, status: int) -> None:
    script = Script(_resp(status, "ValidationError", "nope"), _resp(200))
    client = _client(script, fake_clock)
    with pytest.raises((InvalidRequest, AuthError, NotFound)):
        client.get_contact("x")
    assert len(script.seen) == 1 and fake_clock.sleeps == []


def test_gives_up_after_max_attempts(fake_clock: FakeClock) -> None:
    script = Script(*[_resp(500)] * 3)
    with pytest.raises(RetriableLoadError):
        _client(script, fake_clock, max_attempts=3).search({})
    assert len(script.seen) == 3


def test_connect_error_is_not_ambiguous(fake_clock: FakeClock) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json={}))
    client = _client(script, fake_clock)
    client.create_contact({})
    assert not client.ambiguous


def test_duplicate_after_lost_response_is_flagged_ambiguous(fake_clock: FakeClock) -> None:
    script = Script(httpx.RemoteProtocolError("dropped"), _resp(400, "DuplicateFieldError", "exists"))
    with pytest.raises(DuplicateKey) as info:
        _client(script, fake_clock).create_contact({})
    assert info.value.ambiguous


def test_monthly_quota_pauses_without_retry(fake_clock: FakeClock) -> None:
    script = Script(
        _resp(429, "TooManyRequestsError", "Monthly API quota exceeded.", {"Retry-After": "7200"})
    )
    with pytest.raises(Paused) as info:
        _client(script, fake_clock).create_contact({})
    assert info.value.resume_after == "2027-01-15T10:00:00Z" and len(script.seen) == 1


def test_key_never_appears_in_exception_text(fake_clock: FakeClock) -> None:
    echo = f"Invalid API key {KEY}"
    for answer in (_resp(401, "UnauthorizedError", echo), _resp(400, "ValidationError", echo)):
        with pytest.raises(Exception) as info:
            _client(Script(answer), fake_clock).create_contact({})
        assert KEY not in str(info.value) and KEY not in repr(info.value.args)


def test_headers_reach_the_pacer_on_every_response(fake_clock: FakeClock) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.states: list[RateState] = []
            self.before = 0

        def before_request(self) -> None:
            self.before += 1

        def observe(self, state: RateState) -> None:
            self.states.append(state)

        def throttled(self, retry_after: float | None, attempt: int) -> None:
            fake_clock.sleep(retry_after or 0)

    rec = Recorder()
    hdr = {"X-RateLimit-Limit": "3600", "X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "1800000100"}
    script = Script(
        _resp(429, "TooManyRequestsError", "Rate limit exceeded", {"Retry-After": "45", **hdr}),
        httpx.Response(200, json={}, headers=hdr),
    )
    _client(script, fake_clock, pacer=rec).search({})
    assert rec.before == 2 and len(rec.states) == 2 and fake_clock.sleeps == [45]


def test_retry_after_as_http_date_is_understood() -> None:
    when = "Fri, 15 Jan 2027 08:01:00 GMT"  # NOW + 60 s
    hourly = classify(_resp(429, "TooManyRequestsError", "Rate limit", {"Retry-After": when}), now=NOW)
    assert isinstance(hourly, RetriableLoadError) and hourly.retry_after == 60
