"""Pacing: spend the account's hourly allowance evenly, leave ``reserve`` for others, never earn a 429.

The budget is account-wide and other integrations spend it too, so the pacer trusts the server's headers
over its own arithmetic: after every response it re-syncs to ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset``. Between responses it is a token bucket whose tokens are ``remaining − reserve`` and
whose refill happens at ``reset``; the tokens are spent evenly over the time left to the reset (at 3,600/h
on a fresh window that is the documented ~1 request/second, and a run that starts mid-window with a full
allowance still uses all of it). When the tokens are gone it waits for the reset.

When the caller says how much work is left (``expect``) and it fits in the tokens left in this window, there
is nothing to smooth: requests go at once (a small migration never waits; others still keep the reserve).

Before the first response nothing is known, so the first request goes at once and its headers set the
pace. The window length is not in any header: it starts at ``window_seconds`` (3,600 documented) and is
learned from two successive reset times. ``on_wait(seconds, reason)`` lets a progress bar say why it sits.
"""

from __future__ import annotations

from collections.abc import Callable

from etl.benchmark.client import RateState
from etl.clock import Clock
from etl.errors import ConfigError, Paused

THROTTLE_CAP = 300.0  # seconds; the documented cap for repeated 429s
MIN_SLEEP = 0.001  # shorter waits cost more than they smooth
RESET_MARGIN = 0.05  # seconds after the announced reset before the first request of the new window


class Pacer:
    def __init__(
        self,
        clock: Clock,
        *,
        reserve: int = 0,
        window_seconds: float = 3600.0,
        default_limit: int = 3600,
        max_requests: int | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        if reserve < 0:
            raise ValueError("reserve must be >= 0")
        self.clock = clock
        self.reserve = reserve
        self.window = float(window_seconds)
        self.limit = default_limit
        self.max_requests = max_requests
        self.on_wait = on_wait
        self.remaining: int | None = None
        self.reset: float | None = None
        self.monthly_limit: int | None = None
        self.monthly_remaining: int | None = None
        self.sent = 0  # requests this pacer let through (this process)
        self.waited = 0.0
        self._last_sent: float | None = None
        self.expected: int | None = None  # requests the caller still plans to send (None: unknown)
        self._limit_seen = False  # has a response told the account's hourly limit

    def expect(self, requests: int) -> None:
        """The caller's estimate of the requests still to come (lets a small run skip the smoothing)."""
        self.expected = max(0, requests)

    def _wait(self, seconds: float, reason: str) -> None:
        if seconds < MIN_SLEEP:
            return
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self.waited += seconds
        self.clock.sleep(seconds)

    def check_reserve(self) -> None:
        """``ConfigError`` once a response showed an hourly limit the reserve leaves nothing of: the pacer
        would otherwise wait for a window that never comes, silently."""
        if self._limit_seen and self.reserve >= self.limit:
            raise ConfigError(
                f"--reserve {self.reserve} is not below the account's hourly limit of {self.limit:,} "
                "requests, so no request could ever be sent; use a smaller --reserve"
            )

    def before_request(self) -> None:
        """Block until one more request fits; ``Paused`` once ``max_requests`` have gone out."""
        if self.max_requests is not None and self.sent >= self.max_requests:
            raise Paused(f"--max-requests {self.max_requests} reached")
        self.check_reserve()
        now = self.clock.now()
        if self.reset is not None and now >= self.reset:
            self._roll_window()
        if self.remaining is not None and self.reset is not None:
            tokens = self.remaining - self.reserve
            if tokens <= 0:
                self._wait(
                    self.reset - now + RESET_MARGIN, "hourly allowance used: waiting for the window to reset"
                )
                self._roll_window()
            elif self._last_sent is not None and (self.expected is None or self.expected > tokens):
                # Clamp to one window so a skewed clock cannot stretch the pace.
                interval = min(max(0.0, self.reset - now), self.window) / tokens
                self._wait(self._last_sent + interval - now, "pacing")
        self.sent += 1
        if self.expected:
            self.expected -= 1
        self._last_sent = self.clock.now()
        if self.remaining is not None:
            self.remaining -= 1

    def _roll_window(self) -> None:
        """The announced reset has passed: assume a fresh window until a response says otherwise."""
        self.remaining = self.limit
        self.reset = (self.reset or self.clock.now()) + self.window
        self._last_sent = None

    def observe(self, state: RateState) -> None:
        """Re-sync with what the server said (other integrations may have spent part of the budget)."""
        if state.limit is not None:
            self.limit = state.limit
            self._limit_seen = True
        if state.reset is not None:
            if self.reset is not None and state.reset > self.reset + 0.5:
                self.window = min(self.window, state.reset - self.reset)
            self.reset = state.reset
        if state.remaining is not None:
            self.remaining = state.remaining
        if state.monthly_limit is not None:
            self.monthly_limit = state.monthly_limit
        if state.monthly_remaining is not None:
            self.monthly_remaining = state.monthly_remaining

    def throttled(self, retry_after: float | None, attempt: int) -> None:
        """An hourly 429 (someone else spent the budget): wait ``Retry-After``, doubling on repeats, ≤ 300 s."""
        base = retry_after if retry_after is not None and retry_after > 0 else 1.0
        wait = min(base * 2 ** max(0, attempt - 1), THROTTLE_CAP)
        self._wait(wait, f"rate limited by the server: waiting {wait:.0f}s")
        self.remaining = None  # unknown until the next response
        self._last_sent = None
