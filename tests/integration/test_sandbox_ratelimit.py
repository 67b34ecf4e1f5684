"""Sandbox contract: hourly window, monthly quota, the five headers and the 429s (docs/reference/benchmark-api.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from etl.clock import FakeClock
from etl.sandbox.knobs import Knobs
from etl.sandbox.ratelimit import next_month_boundary
from tests.fixtures.sandbox import client_for, error_of

T0 = 1_800_000_000.0  # exactly on an hour boundary (2027-01-15T08:00:00Z)
HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Monthly-Limit",
    "X-Monthly-Remaining",
)


def test_every_2xx_carries_the_five_headers(sandbox_factory) -> None:
    box = sandbox_factory(clock=FakeClock(T0 + 10))
    with client_for(box) as c:
        responses = [
            c.get("/api/contact-structure"),
            c.get("/api/contact"),
            c.post("/api/contact/search", json={"bad": 1}),
        ]
    first, second, failed = responses
    assert all(h in first.headers for h in HEADERS)
    assert first.headers["X-RateLimit-Limit"] == "3600" and first.headers["X-RateLimit-Remaining"] == "3599"
    assert first.headers["X-RateLimit-Reset"] == str(int(T0 + 3600))
    assert first.headers["X-Monthly-Limit"] == "100000" and first.headers["X-Monthly-Remaining"] == "99999"
    assert (
        second.headers["X-RateLimit-Remaining"] == "3598" and second.headers["X-Monthly-Remaining"] == "99998"
    )
    assert failed.status_code == 400 and "X-RateLimit-Remaining" not in failed.headers


def test_hourly_exhaustion_429_then_window_reset(sandbox_factory) -> None:
    clock = FakeClock(T0)
    box = sandbox_factory(Knobs(hourly_limit=3), clock)
    with client_for(box) as c:
        remaining = [c.get("/api/contact").headers["X-RateLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        clock.advance(3555)
        r = c.get("/api/contact")
        assert r.status_code == 429
        assert error_of(r) == {
            "errorType": "TooManyRequestsError",
            "message": "Rate limit exceeded. Retry after 45 seconds.",
        }
        assert r.headers["Retry-After"] == "45"
        assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
        assert r.headers["X-RateLimit-Reset"] == str(int(T0 + 3600))
        assert c.post("/api/contact/search", json={}).status_code == 429  # 429s are not charged either
        clock.advance(45)
        r = c.get("/api/contact")
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"
        assert r.headers["X-RateLimit-Reset"] == str(int(T0 + 7200))
        assert r.headers["X-Monthly-Remaining"] == str(100_000 - 4)


def test_counters_are_shared_by_every_key_of_the_account(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(hourly_limit=2), FakeClock(T0))
    with client_for(box) as full, client_for(box, "bme_sandbox_readonly") as ro:
        assert full.get("/api/contact").status_code == 200
        assert ro.get("/api/contact").status_code == 200
        assert ro.get("/api/contact").status_code == 429
        assert full.get("/api/contact").status_code == 429


def test_unauthenticated_requests_are_not_charged(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(hourly_limit=2), FakeClock(T0))
    with client_for(box, "bme_nope") as bad, client_for(box) as good:
        for _ in range(5):
            assert bad.get("/api/contact").status_code == 401
        assert good.get("/api/contact").headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.parametrize(("window", "reset"), [(60, T0 + 60), (3600, T0 + 3600), (86400, 1_800_057_600)])
def test_window_length_knob_aligns_the_window(sandbox_factory, window, reset) -> None:
    box = sandbox_factory(Knobs(window_seconds=window, hourly_limit=1), FakeClock(T0 + 30))
    with client_for(box) as c:
        assert c.get("/api/contact").headers["X-RateLimit-Reset"] == str(int(reset))
        r = c.get("/api/contact")
    assert r.status_code == 429 and r.headers["Retry-After"] == str(int(reset - T0 - 30))


def test_monthly_exhaustion_waits_for_the_period_end(sandbox_factory) -> None:
    clock = FakeClock(T0)
    box = sandbox_factory(Knobs(monthly_limit=2, period_end=T0 + 86_400, period_seconds=30 * 86_400), clock)
    with client_for(box) as c:
        assert [c.get("/api/contact").headers["X-Monthly-Remaining"] for _ in range(2)] == ["1", "0"]
        clock.advance(400)
        r = c.get("/api/contact")
        assert r.status_code == 429
        assert error_of(r) == {"errorType": "TooManyRequestsError", "message": "Monthly API quota exceeded."}
        assert r.headers["Retry-After"] == str(86_400 - 400)
        assert r.headers["X-Monthly-Limit"] == "2" and r.headers["X-Monthly-Remaining"] == "0"
        clock.advance(86_000)
        r = c.get("/api/contact")
        assert r.status_code == 200 and r.headers["X-Monthly-Remaining"] == "1"
        c.get("/api/contact")
        assert c.get("/api/contact").headers["Retry-After"] == str(30 * 86_400)


def test_monthly_exhaustion_wins_over_hourly(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(monthly_limit=1, hourly_limit=1), FakeClock(T0))
    with client_for(box) as c:
        c.get("/api/contact")
        r = c.get("/api/contact")
    assert error_of(r)["message"] == "Monthly API quota exceeded."


def test_default_period_ends_at_the_next_utc_month(sandbox_factory) -> None:
    box = sandbox_factory(Knobs(monthly_limit=1), FakeClock(T0))
    with client_for(box) as c:
        c.get("/api/contact")
        r = c.get("/api/contact")
    end = datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    assert r.status_code == 429 and r.headers["Retry-After"] == str(int(end - T0))


@pytest.mark.parametrize(("count_failed", "remaining"), [(True, "6"), (False, "9")])
def test_whether_failed_requests_count(sandbox_factory, count_failed, remaining) -> None:
    box = sandbox_factory(Knobs(hourly_limit=10, count_failed_requests=count_failed), FakeClock(T0))
    with client_for(box) as c, client_for(box, "bme_sandbox_readonly") as ro:
        assert c.get("/api/contact/" + "0" * 24).status_code == 404
        assert c.post("/api/contact", json={}).status_code == 400
        assert ro.post("/api/contact", json={}).status_code == 403
        r = c.get("/api/contact")
    assert r.headers["X-RateLimit-Remaining"] == remaining


@pytest.mark.parametrize(
    ("now", "end"),
    [
        ("2027-01-15T08:00:00", "2027-02-01T00:00:00"),
        ("2027-12-31T23:59:59", "2028-01-01T00:00:00"),
        ("2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ],
)
def test_next_month_boundary(now, end) -> None:
    def ts(s: str) -> float:
        return datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()

    assert next_month_boundary(ts(now)) == ts(end)
