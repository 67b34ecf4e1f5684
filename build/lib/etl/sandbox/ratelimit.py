"""Account-level hourly and monthly budgets, as docs/reference/benchmark-api.md's emulator guidance (§4.7) reads the docs.

The hourly window is fixed and aligned to its length (``window_seconds``, 3600 → clock hours), so the
documented ``X-RateLimit-Reset`` is a boundary and ``Retry-After`` is the time left to it. The monthly budget
runs to ``period_end`` (or the next UTC month boundary). Counters live in the store: a restarted sandbox
still remembers how much of the hour and the month is spent. Every key of the account shares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from etl.sandbox.apierror import ApiError
from etl.sandbox.knobs import Knobs
from etl.sandbox.store import Store

HOURLY = "hourly"
MONTHLY = "monthly"


@dataclass(frozen=True)
class Budget:
    """The state after counting one request; ``headers()`` is what a 2xx answer carries."""

    hourly_limit: int
    hourly_remaining: int
    window_end: float
    monthly_limit: int
    monthly_remaining: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.hourly_limit),
            "X-RateLimit-Remaining": str(max(self.hourly_remaining, 0)),
            "X-RateLimit-Reset": str(int(self.window_end)),
            "X-Monthly-Limit": str(self.monthly_limit),
            "X-Monthly-Remaining": str(max(self.monthly_remaining, 0)),
        }


def next_month_boundary(now: float) -> float:
    dt = datetime.fromtimestamp(now, UTC)
    year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


class RateLimiter:
    """Call ``admit(now)`` once per authenticated request (raises the 429), ``refund(now)`` to undo it."""

    def __init__(self, store: Store, knobs: Knobs) -> None:
        self.store = store
        self.knobs = knobs

    def window_start(self, now: float) -> float:
        w = self.knobs.window_seconds
        return math.floor(now / w) * w

    def period_end(self, now: float) -> float:
        end = self.knobs.period_end
        if end is None:
            return next_month_boundary(now)
        if now < end:
            return end
        step = self.knobs.period_seconds
        return end + (math.floor((now - end) / step) + 1) * step

    def _used(self, name: str, period: float) -> int:
        current = self.store.counter(name)
        return current[1] if current and current[0] == period else 0

    def admit(self, now: float) -> Budget:
        """Count the request, or raise 429 without counting it when a budget is spent (monthly first: it is
        the longer wait, and telling a client "retry in 40 s" when the month is gone would be a lie)."""
        k = self.knobs
        start, end = self.window_start(now), self.period_end(now)
        window_end = start + k.window_seconds
        hourly_used, monthly_used = self._used(HOURLY, start), self._used(MONTHLY, end)
        if monthly_used >= k.monthly_limit:
            raise ApiError(
                429,
                "TooManyRequestsError",
                "Monthly API quota exceeded.",
                headers={
                    "Retry-After": str(max(1, math.ceil(end - now))),
                    "X-Monthly-Limit": str(k.monthly_limit),
                    "X-Monthly-Remaining": "0",
                },
            )
        if hourly_used >= k.hourly_limit:
            wait = max(1, math.ceil(window_end - now))
            raise ApiError(
                429,
                "TooManyRequestsError",
                f"Rate limit exceeded. Retry after {wait} seconds.",
                headers={
                    "Retry-After": str(wait),
                    "X-RateLimit-Limit": str(k.hourly_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(window_end)),
                },
            )
        self.store.set_counters([(HOURLY, start, hourly_used + 1), (MONTHLY, end, monthly_used + 1)])
        return Budget(
            k.hourly_limit,
            k.hourly_limit - hourly_used - 1,
            window_end,
            k.monthly_limit,
            k.monthly_limit - monthly_used - 1,
        )

    def refund(self, now: float, budget: Budget) -> Budget:
        """Give a failed request back (``count_failed_requests = false``)."""
        start, end = self.window_start(now), self.period_end(now)
        hourly_used, monthly_used = self._used(HOURLY, start), self._used(MONTHLY, end)
        self.store.set_counters(
            [(HOURLY, start, max(hourly_used - 1, 0)), (MONTHLY, end, max(monthly_used - 1, 0))]
        )
        return Budget(
            budget.hourly_limit,
            budget.hourly_remaining + 1,
            budget.window_end,
            budget.monthly_limit,
            budget.monthly_remaining + 1,
        )
