"""Progress of a run's phases (extract, load, verify) with rate and ETA, and a heartbeat at an interval.

The stages report what they finished (``update``); this module turns that into what a person or a monitor
needs: done/total, outcome counts, requests left this hour and month, a rate and an ETA. Two things listen:

- ``on_update(tracker)`` after every update, for a terminal bar (which throttles its own redraws);
- ``on_beat(snapshot)`` at most once per ``interval`` seconds, when a phase starts and when it ends, for
  the ``progress`` event of ``events.jsonl`` and the heartbeat line on a non-terminal stderr (which shows
  only the ``scheduled`` ones: a phase shorter than the interval adds no line).

Time comes from the injected clock. A heartbeat must also come while nothing moves — an hour's wait for the
rate-limit window, a monthly quota, a retry backoff — so ``TickingClock`` wraps the run's clock and calls
``tick`` between slices of every long sleep: the beats keep their interval through waits, and with a
``FakeClock`` the tests see exactly when each would be printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from etl.clock import Clock

DEFAULT_INTERVAL = 60.0  # seconds between heartbeats (--progress-interval)
MIN_SLICE = 0.05  # seconds: the shortest piece a sleep is cut into for a heartbeat
RATE_WINDOW = 600.0  # seconds of recent progress the rate is measured over (a wait ages out of it)

EXTRACT, LOAD, VERIFY = "extract", "load", "verify"
UNITS = {EXTRACT: "contacts read from the legacy API", LOAD: "contacts", VERIFY: "requests"}


class RateSource(Protocol):
    """What a pacer tells about the account's allowance (``etl.benchmark.pacing.Pacer`` fits)."""

    remaining: int | None
    monthly_remaining: int | None
    sent: int


@dataclass(frozen=True)
class Snapshot:
    """One heartbeat: everything a progress line and a ``progress`` event say."""

    phase: str
    done: int
    total: int | None
    counts: Mapping[str, int]
    rate: float | None  # per second, over the recent window
    eta_seconds: float | None
    elapsed: float  # seconds since the phase started (this process)
    requests: int | None  # requests this process sent in the phase
    hour_left: int | None
    month_left: int | None
    at: float  # clock time of the snapshot
    final: bool = False  # the phase's last beat
    number: int = 0  # beats of the phase before this one: 0 is the beat at its start

    @property
    def scheduled(self) -> bool:
        """An interval's beat, or the last beat of a phase that had one: what a log should show. A phase
        shorter than the interval shows nothing (the command's summary follows at once)."""
        return self.number >= (2 if self.final else 1)

    def fields(self) -> dict[str, Any]:
        """The ``progress`` event's fields (docs/events.md)."""
        return {
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "requests": self.requests,
            "hour_left": self.hour_left,
            "month_left": self.month_left,
            "rate_per_min": None if self.rate is None else round(self.rate * 60, 1),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "eta_at": None if self.eta_seconds is None else _iso(self.at + self.eta_seconds),
            "final": self.final,
        }

    def line(self) -> str:
        """One plain line (no control characters): ``load: 1,234/50,000 contacts (2%) | created 1,200 …``."""
        of = f"/{self.total:,}" if self.total is not None else ""
        pct = f" ({100 * self.done // self.total}%)" if self.total else ""
        parts = [f"{self.phase}: {self.done:,}{of} {UNITS.get(self.phase, 'done')}{pct}"]
        counts = [f"{k} {v:,}" for k, v in sorted(self.counts.items()) if v]
        if counts:
            parts.append(", ".join(counts))
        left = []
        if self.hour_left is not None:
            left.append(f"{self.hour_left:,} this hour")
        if self.month_left is not None:
            left.append(f"{self.month_left:,} this month")
        if left:
            parts.append("requests left: " + ", ".join(left))
        parts.append(rate_text(self.rate))
        if self.final:
            parts.append(f"done in {duration(self.elapsed)}")
        else:
            parts.append(eta_text(self.eta_seconds, self.at))
        return " | ".join(parts)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def duration(seconds: float) -> str:
    """``3h05m``, ``4m10s``, ``12s``."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def rate_text(rate: float | None) -> str:
    return "rate unknown yet" if rate is None else f"{rate * 60:,.1f}/min"


def eta_text(eta: float | None, now: float) -> str:
    if eta is None:
        return "ETA unknown"
    return f"ETA {duration(eta)} ({_iso(now + eta)})"


@dataclass
class _Phase:
    name: str
    total: int | None
    started: float
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, done) for the recent rate
    sent_at_start: int | None = None
    beats: int = 0


class Tracker:
    """The current phase's progress; ``on_beat`` heartbeats at most once per ``interval`` (see module doc)."""

    def __init__(
        self,
        clock: Clock,
        *,
        interval: float = DEFAULT_INTERVAL,
        on_beat: Callable[[Snapshot], None] | None = None,
        on_update: Callable[[Tracker], None] | None = None,
        on_phase: Callable[[str, int | None], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("the progress interval must be positive")
        self.clock = clock
        self.interval = float(interval)
        self.beats: list[Callable[[Snapshot], None]] = [on_beat] if on_beat else []
        self.on_update = on_update
        self.on_phase = on_phase
        self.pacer: RateSource | None = None
        self.phase: _Phase | None = None
        self._last_beat: float | None = None

    def listen(self, on_beat: Callable[[Snapshot], None]) -> None:
        self.beats.append(on_beat)

    def begin(
        self, name: str, total: int | None, *, done: int = 0, counts: Mapping[str, int] | None = None
    ) -> None:
        """A phase starts (a resumed load starts at what the ledger has done): ends the previous one, beats."""
        self.end()
        now = self.clock.monotonic()
        self.phase = _Phase(name, total, now, done, dict(counts or {}), [(now, done)])
        if self.pacer is not None:
            self.phase.sent_at_start = self.pacer.sent
        if self.on_phase is not None:
            self.on_phase(name, total)
        self._beat()

    def set_total(self, total: int | None) -> None:
        if self.phase is not None:
            self.phase.total = total

    def attach(self, pacer: RateSource) -> None:
        """The pacer whose allowance the lines show (the load's, once it exists)."""
        self.pacer = pacer
        if self.phase is not None:
            self.phase.sent_at_start = pacer.sent

    def update(self, done: int, counts: Mapping[str, int] | None = None) -> None:
        phase = self.phase
        if phase is None:
            return
        phase.done = done
        if counts is not None:
            phase.counts = dict(counts)
        if self.on_update is not None:
            self.on_update(self)
        self.tick()

    def tick(self) -> None:
        """Beat if the interval has passed since the last beat (also called during long sleeps)."""
        if self.phase is None:
            return
        now = self.clock.monotonic()
        if self._last_beat is None or now - self._last_beat >= self.interval:
            self._beat()

    def due(self) -> float:
        """Seconds until the next heartbeat is due (the interval when no phase is running)."""
        if self.phase is None or self._last_beat is None:
            return self.interval
        return max(0.0, self._last_beat + self.interval - self.clock.monotonic())

    def end(self) -> None:
        """The phase is over: its final beat (whatever the interval), then no phase."""
        if self.phase is not None:
            self._beat(final=True)
            self.phase = None

    def drop(self) -> None:
        """The phase stops short (a pause, a failure): no final beat, whose "done in" would mislead."""
        self.phase = None

    def snapshot(self, *, final: bool = False) -> Snapshot:
        phase = self.phase
        assert phase is not None
        now = self.clock.monotonic()
        samples = phase.samples
        samples.append((now, phase.done))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.pop(0)  # keep one sample older than the window
        t0, d0 = samples[0]
        rate = (phase.done - d0) / (now - t0) if now > t0 and phase.done > d0 else None
        eta = None
        if rate and phase.total is not None:
            eta = max(0, phase.total - phase.done) / rate
        pacer = self.pacer
        requests = None
        if pacer is not None and phase.sent_at_start is not None:
            requests = pacer.sent - phase.sent_at_start
        return Snapshot(
            phase=phase.name,
            done=phase.done,
            total=phase.total,
            counts=dict(phase.counts),
            rate=rate,
            eta_seconds=0.0 if final else eta,
            elapsed=now - phase.started,
            requests=requests,
            hour_left=pacer.remaining if pacer is not None and phase.name == LOAD else None,
            month_left=pacer.monthly_remaining if pacer is not None and phase.name == LOAD else None,
            at=self.clock.now(),
            final=final,
            number=phase.beats,
        )

    def _beat(self, *, final: bool = False) -> None:
        self._last_beat = self.clock.monotonic()
        snap = self.snapshot(final=final)
        if self.phase is not None:
            self.phase.beats += 1
        for listener in self.beats:
            listener(snap)


class TickingClock:
    """``inner`` whose sleeps are cut where the tracker's next heartbeat is due, calling its ``tick`` there:
    heartbeats keep their interval through a long wait (see the module doc)."""

    def __init__(self, inner: Clock, tracker: Tracker) -> None:
        self.inner = inner
        self.tracker = tracker

    def now(self) -> float:
        return self.inner.now()

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def sleep(self, seconds: float) -> None:
        left = seconds
        while left > 0:
            step = min(left, max(self.tracker.due(), MIN_SLICE))
            self.inner.sleep(step)
            left -= step
            self.tracker.tick()
        if seconds <= 0:
            self.inner.sleep(seconds)
