"""``etl.retry``: the one backoff / Retry-After / outage policy the Benchmark client and the legacy fetcher share."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from etl.clock import FakeClock
from etl.errors import ConfigError
from etl.retry import Backoff, Retrier, parse_duration, retry_after_seconds


def test_retry_after_in_both_forms() -> None:
    now = 1_800_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(date, now) == 90.0
    assert retry_after_seconds(format_datetime(datetime.fromtimestamp(now - 5, UTC), usegmt=True), now) == 0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_backoff_is_capped_and_equal_jittered() -> None:
    rng = random.Random(7)
    waits = [Backoff(0.5, 30.0).delay(a, rng) for a in range(1, 15)]
    assert 0.25 <= waits[0] <= 0.5 and all(15.0 <= w <= 30.0 for w in waits[7:])
    assert len(set(waits)) == len(waits)  # jittered: no two clients retry in step


def test_without_max_outage_a_blip_gives_up_after_max_attempts() -> None:
    clock = FakeClock()
    r = Retrier(clock, random.Random(1), backoff=Backoff(0.5, 30.0), max_attempts=3)
    assert [r.failed("503"), r.failed("503"), r.failed("503")] == [True, True, False]
    assert len(clock.sleeps) == 2 and r.streak == 0  # the next request starts afresh


def test_an_outage_is_waited_out_with_few_lines_and_capped_waits() -> None:
    clock = FakeClock()
    lines: list[str] = []
    r = Retrier(
        clock,
        random.Random(3),
        backoff=Backoff(0.5, 30.0),
        max_attempts=6,
        max_outage=3 * 3600,
        on_event=lines.append,
        what="the target",
    )
    r.succeeded()  # the server answered once: what follows is an outage, not a wrong address
    start = clock.now()
    failures = 0
    while clock.now() - start < 3000:  # fifty minutes of refusals
        assert r.failed("network error (ConnectError)")
        failures += 1
    assert failures > 15 and max(clock.sleeps) <= 300.0  # cap about five minutes
    assert lines[0].startswith(
        "the target is failing (network error (ConnectError)); waiting it out for up to 3h"
    )
    still = [x for x in lines if "still failing" in x]
    assert 3 <= len(still) <= 5  # one line every ten minutes, not one per retry
    r.succeeded()
    assert lines[-1].startswith("the target is back after 5") and len(lines) == 2 + len(still)


def test_an_outage_past_max_outage_gives_up() -> None:
    clock = FakeClock()
    lines: list[str] = []
    r = Retrier(
        clock,
        random.Random(3),
        backoff=Backoff(0.5, 30.0),
        max_attempts=6,
        max_outage=30,
        on_event=lines.append,
    )
    r.succeeded()
    start = clock.now()
    while r.failed("503"):
        pass
    assert 30 <= clock.now() - start <= 31  # never slept past the deadline
    assert "giving up for now" in lines[-1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("7d", 604800), ("0", 0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--max-outage") == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "6x", "nan", "inf"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(ConfigError, match="--max-wait"):
        parse_duration(text, "--max-wait")


def test_a_server_that_never_answered_gets_the_short_retries_only() -> None:
    """A wrong BME_BASE_URL must fail in seconds, not be waited on for the whole --max-outage."""
    clock = FakeClock()
    r = Retrier(clock, random.Random(1), backoff=Backoff(0.5, 30.0), max_attempts=6, max_outage=6 * 3600)
    results = [r.failed("network error (ConnectError)") for _ in range(6)]
    assert results == [True] * 5 + [False] and sum(clock.sleeps) < 16
