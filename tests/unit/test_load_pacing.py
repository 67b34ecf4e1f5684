"""Pacing decisions with a FakeClock: exact waits, no real sleeping."""

from __future__ import annotations

import pytest

from etl.benchmark.client import RateState
from etl.benchmark.pacing import Pacer
from etl.clock import FakeClock
from etl.errors import Paused

T0 = 1_800_000_000.0  # FakeClock's default start, a multiple of 3600


def _state(remaining: int, reset: float, limit: int = 3600) -> RateState:
    return RateState(
        limit=limit, remaining=remaining, reset=reset, monthly_limit=100_000, monthly_remaining=90_000
    )


def test_first_request_goes_at_once_then_spends_the_allowance_evenly(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock)
    pacer.before_request()
    assert fake_clock.sleeps == []
    pacer.observe(_state(3599, T0 + 3600))
    pacer.before_request()  # 3,599 tokens over 3,600 s → about one second apart
    assert fake_clock.sleeps == [pytest.approx(3600 / 3599)]


def test_reserve_is_left_for_other_integrations(fake_clock: FakeClock) -> None:
    waits: list[tuple[float, str]] = []
    pacer = Pacer(fake_clock, reserve=100, on_wait=lambda s, r: waits.append((s, r)))
    pacer.before_request()
    pacer.observe(_state(100, T0 + 600))  # others spent the window down to our reserve
    pacer.before_request()
    assert waits and waits[0][0] == pytest.approx(600.05) and "reset" in waits[0][1]
    assert fake_clock.now() >= T0 + 600


def test_other_integrations_slow_us_down(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock)
    pacer.before_request()
    pacer.observe(_state(1800, T0 + 3600))
    pacer.before_request()
    pacer.observe(_state(900, T0 + 3600))  # someone else used 900 in the meantime
    before = fake_clock.now()
    pacer.before_request()
    assert fake_clock.now() - before == pytest.approx((T0 + 3600 - before) / 900, rel=0.01)


def test_window_length_is_learned_from_successive_resets(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock)
    pacer.observe(_state(5, T0 + 10, limit=12))
    pacer.observe(_state(11, T0 + 20, limit=12))
    assert pacer.window == 10


def test_no_wait_when_limit_is_huge(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock)
    for _ in range(100):
        pacer.before_request()
        pacer.observe(_state(10**9, T0 + 3600, limit=10**9))
    assert fake_clock.sleeps == []


def test_hourly_429_waits_retry_after_and_doubles_on_repeats_capped(fake_clock: FakeClock) -> None:
    said: list[str] = []
    pacer = Pacer(fake_clock, on_wait=lambda s, r: said.append(r))
    pacer.throttled(45, 1)
    pacer.throttled(45, 2)
    pacer.throttled(200, 3)
    assert fake_clock.sleeps == [45, 90, 300]
    assert all("rate limited" in r for r in said)


def test_max_requests_pauses_cleanly(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock, max_requests=2)
    pacer.before_request()
    pacer.before_request()
    with pytest.raises(Paused, match="--max-requests 2"):
        pacer.before_request()
    assert pacer.sent == 2


def test_work_that_fits_the_window_is_not_smoothed(fake_clock: FakeClock) -> None:
    pacer = Pacer(fake_clock)
    pacer.expect(50)
    pacer.before_request()
    pacer.observe(_state(3000, T0 + 3600))
    for _ in range(49):
        pacer.before_request()
    assert fake_clock.sleeps == []
    pacer.expect(5000)  # more than the 2,951 tokens left: spread again
    pacer.before_request()
    assert fake_clock.sleeps and fake_clock.sleeps[0] > 1
