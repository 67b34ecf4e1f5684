"""Waiting out transient failures: one backoff, one ``Retry-After`` reader, one outage clock.

Shared by the Benchmark client (``etl.benchmark.client``) and the legacy-API fetcher
(``etl.extract.legacy_fetch``), so both sources of HTTP wait the same way and on the injected clock:

- ``Backoff``: capped exponential backoff with equal jitter (half the delay fixed, half random), so clients
  that failed together do not retry in step;
- ``retry_after_seconds``: ``Retry-After`` in both RFC 9110 forms (delta-seconds or an HTTP date);
- ``Retrier``: after each transient failure (network error, timeout, 5xx) says whether to try again and
  sleeps the wait. A short blip is ``max_attempts`` failures in a row; with ``max_outage`` > 0 a longer run
  of failures is an *outage*, waited out (the backoff grows to ``outage_cap``, about 5 minutes) until it
  has lasted ``max_outage`` seconds. Only a server that has answered before can have an outage: one that
  never answered (a wrong URL, a host that does not exist) is given the short retries and reported, not
  waited on for hours. ``on_event`` gets one line when the outage starts, one every
  ``report_every`` seconds while it lasts (not one per retry) and one when it ends, with how long it took.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from etl.clock import Clock
from etl.errors import ConfigError
from etl.events import OUTAGE_END, OUTAGE_START

DEFAULT_MAX_OUTAGE = 6 * 3600.0  # the CLI's --max-outage
DEFAULT_MAX_WAIT = 7 * 86400.0  # the CLI's --max-wait
OUTAGE_CAP = 300.0  # seconds: the longest wait between two attempts during an outage
REPORT_EVERY = 600.0  # seconds between two "still failing" lines


def retry_after_seconds(value: str | bytes | None, now: float) -> float | None:
    """``Retry-After`` as delta-seconds or as an HTTP date (RFC 9110), in seconds from ``now`` (≥ 0);
    ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Backoff:
    """``delay(attempt)`` for a 1-based attempt: ``min(cap, base·2^(attempt−1))``, equal-jittered."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random, *, cap: float | None = None) -> float:
        top = min(self.cap if cap is None else cap, self.base * 2 ** max(0, attempt - 1))
        return top / 2 + rng.random() * top / 2


@dataclass(frozen=True)
class Patience:
    """How long a run waits instead of pausing (exit 75): ``max_outage`` seconds of failures of the target
    (0: a few retries, then pause — the behaviour before ``--max-outage``); with ``wait_for_quota`` a spent
    monthly quota is slept through when it resets within ``max_wait`` seconds. ``on_event`` gets the lines
    a person watching should see (outage start/still/end, the quota wait and when it resumes)."""

    max_outage: float = 0.0
    wait_for_quota: bool = False
    max_wait: float = DEFAULT_MAX_WAIT
    on_event: Callable[[str], None] | None = None
    # for a monitor: ``("outage_start" | "outage_end", fields)`` — the pipeline writes them to events.jsonl
    on_outage: Callable[[str, dict[str, Any]], None] | None = None

    def say(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, flag: str, *, zero: bool = True) -> float:
    """``90``/``90s``, ``30m``, ``6h``, ``7d`` → seconds; ``ConfigError`` (exit 2) naming ``flag`` otherwise.

    ``zero``: whether 0 (turning the wait off) is a value ``flag`` accepts."""
    value = text.strip().lower()
    scale = _UNITS.get(value[-1:]) if value else None
    number = value[:-1] if scale is not None else value
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        seconds = -1.0
    if not (seconds >= 0 if zero else seconds > 0) or seconds == float("inf"):
        raise ConfigError(
            f"{flag} {text!r}: expected a duration such as 90s, 30m, 6h or 7d"
            + (" (0 to turn it off)" if zero else ", above 0")
        )
    return seconds


def duration(seconds: float) -> str:
    """``3h 5m``, ``4m 10s``, ``12s``: how long an outage lasted, for humans."""
    s = int(round(seconds))
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60}s"
    return f"{s}s"


class Retrier:
    """The wait after a transient failure, and whether there is one (see the module doc).

    ``failed(problem, retry_after)`` returns ``False`` when the caller should give up (the blip lasted
    ``max_attempts`` attempts and no outage is allowed, or the outage passed ``max_outage``); otherwise it
    has slept and returns ``True``. ``succeeded()`` ends the streak (and the outage, with its line). The
    state spans requests: an outage that every request meets is one outage, reported once.
    """

    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        *,
        backoff: Backoff,
        max_attempts: int,
        max_outage: float = 0.0,
        outage_cap: float = OUTAGE_CAP,
        report_every: float = REPORT_EVERY,
        retry_after_cap: float | None = None,
        retry_after_replaces: bool = False,
        what: str = "the target",
        on_event: Callable[[str], None] | None = None,
        on_outage: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.backoff = backoff
        self.max_attempts = max(1, max_attempts)
        self.max_outage = max(0.0, max_outage)
        self.outage_cap = outage_cap
        self.report_every = report_every
        self.retry_after_cap = retry_after_cap
        self.retry_after_replaces = (
            retry_after_replaces  # the server's word replaces the backoff, not a floor
        )
        self.what = what
        self.on_event = on_event
        self.on_outage = on_outage
        self.streak = 0  # failures in a row (across requests)
        self.first_failure: float | None = None
        self.outage_since: float | None = None  # set once the streak became an outage
        self._reported: float = 0.0
        self.outages: list[float] = []  # how long each ended outage lasted
        self.answered = False  # has the server ever answered (only then is a run of failures an outage)

    def _say(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    def _mark(self, kind: str, **fields: Any) -> None:
        if self.on_outage is not None:
            self.on_outage(kind, {"target": self.what, **fields})

    def failed(self, problem: str, retry_after: float | None = None) -> bool:
        """One more transient failure: sleep and return True to try again, or return False to give up."""
        now = self.clock.now()
        self.streak += 1
        if self.first_failure is None:
            self.first_failure = now
        if self.streak < self.max_attempts:  # a blip: today's short backoff
            wait = self.backoff.delay(self.streak, self.rng)
        elif self.max_outage <= 0 or not self.answered:
            self._reset()
            return False
        else:
            if self.outage_since is None:
                self.outage_since = self.first_failure
                self._reported = now
                self._say(
                    f"{self.what} is failing ({problem}); waiting it out for up to {duration(self.max_outage)} "
                    "(--max-outage)"
                )
                self._mark(OUTAGE_START, problem=problem, max_outage=self.max_outage)
            lasted = now - self.outage_since
            if lasted >= self.max_outage:
                self._say(
                    f"{self.what} still failing after {duration(lasted)} ({problem}): giving up for now"
                )
                self._mark(OUTAGE_END, seconds=round(lasted, 1), recovered=False, problem=problem)
                self._reset()
                return False
            if now - self._reported >= self.report_every:
                self._reported = now
                self._say(f"{self.what} still failing after {duration(lasted)} ({problem}); still waiting")
            wait = self.backoff.delay(self.streak, self.rng, cap=self.outage_cap)
            wait = min(wait, max(0.0, self.max_outage - lasted) + 0.001)  # do not sleep past the deadline
        if retry_after is not None:
            asked = retry_after if self.retry_after_cap is None else min(retry_after, self.retry_after_cap)
            wait = asked if self.retry_after_replaces else max(wait, asked)
        self.clock.sleep(wait)
        return True

    def succeeded(self) -> None:
        """An answer came: the streak ends, and an outage with one line saying how long it lasted."""
        self.answered = True
        if self.outage_since is not None:
            lasted = self.clock.now() - self.outage_since
            self.outages.append(lasted)
            self._say(f"{self.what} is back after {duration(lasted)}")
            self._mark(OUTAGE_END, seconds=round(lasted, 1), recovered=True)
        self._reset()

    def _reset(self) -> None:
        self.streak = 0
        self.first_failure = None
        self.outage_since = None
