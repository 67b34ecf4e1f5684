"""``bme-migrate status --watch``: follow a running migration from another terminal, until it ends.

Every ``every`` seconds it reads two things the running process keeps current, both without the run lock
(so it never slows or blocks the run): the ledger, for the run's contacts done and by outcome, and
``<state dir>/events.jsonl`` (``etl.events``), for what the ledger cannot say — that a process is still
reading its sources, the requests left this hour and month (from the last ``progress`` heartbeat), and how
the run ended. The rate is measured by the watcher itself from successive ledger reads (over the last ten
minutes), falling back to the run's own heartbeat rate until two reads differ, and gives the ETA.

It ends when nothing is running any more: exit 0 when the run completed, 75 when it paused or was
interrupted (resumable), 2 when it stopped before writing, 1 when it failed; Ctrl-C ends the watch alone
(130), never the run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.clock import Clock, SystemClock
from etl.errors import EXIT_OK, EXIT_PAUSED, EXIT_UNEXPECTED, EXIT_USAGE
from etl.events import FAIL, FINISH, PAUSE, PROGRESS, TERMINAL, events_path, read_events, tail_offset
from etl.load.ledger import Ledger, ledger_errors, lock_holder
from etl.progress import LOAD, RATE_WINDOW, Snapshot
from etl.terminal import say


def follow(
    state_dir: Path,
    *,
    every: float = 5.0,
    clock: Clock | None = None,
    out: Callable[[str], None] = say,
) -> int:
    """Print a line every ``every`` seconds while a run is going; return the exit code (module doc)."""
    clock = clock or SystemClock()
    watcher = _Watcher(state_dir, clock)
    while True:
        line, code = watcher.poll()
        out(line)
        if code is not None:
            return code
        clock.sleep(every)


class _Watcher:
    def __init__(self, state_dir: Path, clock: Clock) -> None:
        self.state_dir = state_dir
        self.clock = clock
        self.path = events_path(state_dir)
        self.offset = tail_offset(self.path)
        self.last: dict[str, Any] | None = None
        self.progress: dict[str, Any] | None = None  # the last heartbeat
        self.samples: deque[tuple[float, int]] = deque()
        self.sampled_run: str | None = None

    def poll(self) -> tuple[str, int | None]:
        """One line, and the exit code once nothing runs any more (None while something does)."""
        events, self.offset = read_events(self.path, offset=self.offset)
        for event in events:
            self.last = event
            if event.get("event") == PROGRESS:
                self.progress = event
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with Ledger.open(self.state_dir, readonly=True) as ledger, ledger_errors(ledger.path):
            held, _ = lock_holder(self.state_dir)
            runs = ledger.runs()
            live = next((r for r in runs if r.state == "running"), None) if held else None
            if live is not None:
                return f"{stamp} run {live.run_id} {self._line(live.run_id, ledger)}", None
            last = self.last
            if last is not None and last.get("event") not in TERMINAL and _alive(last.get("pid")):
                return f"{stamp} {self._waiting(last)}", None
            return self._end(stamp, ledger, runs)

    def _line(self, run_id: str, ledger: Ledger) -> str:
        done, total, totals = ledger.run(run_id).progress()
        if not total:  # begun, no chunk of its plan stored yet (then the unstored rest counts as pending)
            return "is storing its plan (no contact is loading yet)"
        now = self.clock.monotonic()
        if self.sampled_run != run_id:
            self.samples.clear()
            self.sampled_run = run_id
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        rate: float | None = (done - d0) / (now - t0) if now > t0 and done > d0 else None
        beat = self.progress if self.progress and self.progress.get("run_id") == run_id else None
        if beat is not None and beat.get("phase") != LOAD:
            beat = None
        if rate is None and beat is not None and beat.get("rate_per_min"):
            rate = float(beat["rate_per_min"]) / 60
        snap = Snapshot(
            phase=LOAD,
            done=done,
            total=total,
            counts=totals,
            rate=rate,
            eta_seconds=((total - done) / rate) if rate else None,
            elapsed=0.0,
            requests=None,
            hour_left=beat.get("hour_left") if beat else None,
            month_left=beat.get("month_left") if beat else None,
            at=self.clock.now(),
        )
        return snap.line()

    def _waiting(self, last: dict[str, Any]) -> str:
        pid = last.get("pid")
        beat = self.progress
        if beat is not None and beat is last:
            return f"pid {pid}: {beat.get('phase')}: {beat.get('done'):,}/{beat.get('total') or '?'} so far"
        return f"pid {pid} is reading its sources (no run has started loading yet)"

    def _end(self, stamp: str, ledger: Ledger, runs: list[Any]) -> tuple[str, int]:
        last = self.last
        run_id = last.get("run_id") if last is not None else None
        if (
            last is not None and run_id is None
        ):  # the last migration ended (or died) while reading its sources
            kind = last.get("event")
            why = last.get("error") or last.get("reason") or "its process is gone"
            code = EXIT_UNEXPECTED if kind == FAIL else EXIT_PAUSED
            return (
                f"{stamp} the last migration (pid {last.get('pid')}) ended before its run began: {why}",
                code,
            )
        info = next((r for r in runs if r.run_id == run_id), None) if run_id else (runs[0] if runs else None)
        kind = last.get("event") if last is not None else None
        if kind == FINISH and last is not None and last.get("state") == "stopped":
            return f"{stamp} run {run_id} stopped before writing: {last.get('reason')}", EXIT_USAGE
        if info is None:
            return f"{stamp} no migration is running in {self.state_dir} and none has run yet", EXIT_OK
        counts = _counts_text(ledger, info.run_id)
        state = info.state
        if state == "running":
            state = "interrupted (no process holds its lock)"
        elif state == "paused" and info.pause_reason:
            state = f"paused ({info.pause_reason})"
        elif state == "failed" and info.pause_reason:
            state = f"failed ({info.pause_reason})"
        line = f"{stamp} run {info.run_id} {state}: {counts}"
        if info.state in ("paused", "running") and info.resume_command:
            line += f"\n  resume with: {info.resume_command}"
        code = {"complete": EXIT_OK, "failed": EXIT_UNEXPECTED}.get(info.state, EXIT_PAUSED)
        if kind == FAIL:
            code = EXIT_UNEXPECTED
        elif kind == PAUSE:
            code = EXIT_PAUSED
        return line, code


def _counts_text(ledger: Ledger, run_id: str) -> str:
    done, total, totals = ledger.run(run_id).progress()
    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(totals.items()) if v)
    return f"{done:,}/{total:,} contacts" + (f" | {shown}" if shown else "")


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
