"""Time as an injected dependency: pacing, retries, the sandbox's windows and the ledger read it from here.

Tests pass a ``FakeClock`` and assert exact waits without patching ``time`` globally.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from etl.errors import Paused


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class StoppableClock:
    """A clock whose every wait ends within ``slice`` seconds of ``stop`` being set, by raising ``Paused``.

    ``time.sleep`` resumes after a signal handler returns (PEP 475), so a pacing wait of minutes would
    swallow Ctrl-C; waiting in short slices that check the event the handler sets keeps every wait
    (pacing, retry backoff, quota waits, legacy paging backoff) interruptible without touching callers.
    """

    def __init__(self, inner: Clock, stop: threading.Event, *, slice: float = 0.1) -> None:
        self.inner = inner
        self.stop = stop
        self.slice = slice

    def now(self) -> float:
        return self.inner.now()

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def sleep(self, seconds: float) -> None:
        end = self.inner.monotonic() + seconds
        while True:
            if self.stop.is_set():
                raise Paused("interrupted; run the same command again to resume")
            left = end - self.inner.monotonic()
            if left <= 0:
                return
            self.inner.sleep(min(left, self.slice))


class FakeClock:
    """A clock that only moves when slept on or advanced; thread-safe so a served app can share it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._t = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._t

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._t += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds
