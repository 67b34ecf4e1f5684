"""How a running command shows its progress on stderr: a tqdm bar in a terminal, heartbeat lines elsewhere.

Under ``nohup``, in CI or piped to a file, a redrawn bar is either invisible (tqdm disables itself) or
7 MB of carriage returns; there one plain line every ``--progress-interval`` seconds says what a person
needs (``etl.progress.Snapshot.line``), stamped with the time — and nothing for a phase shorter than
the interval, whose summary follows at once. In a terminal the bar is fed on every
update and redraws only when tqdm's own ``mininterval`` allows (at most twice a second here), with
outcome counts written as integers in full (tqdm's number formatting would show ``created=5e+4``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from etl.commands.common import to_stderr
from etl.progress import LOAD, UNITS, Snapshot, Tracker
from etl.terminal import console

BAR_MIN_INTERVAL = 0.5  # seconds between two redraws of the terminal bar
LONG_WAIT = 10.0  # a wait at least this long gets its own line when stderr is not a terminal
DESCRIPTIONS = {"extract": "reading the legacy API", LOAD: "migrating", "verify": "verifying"}


class ProgressDisplay:
    """Listens to a ``Tracker``: ``on_update`` feeds the bar, ``on_beat`` prints the heartbeat line."""

    def __init__(self, stream: IO[str] | None = None, write: Callable[[str], None] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        # --quiet: no bar (its heartbeat lines are dropped by the console like any NORMAL line)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) and not console().quiet
        self.write = write or to_stderr
        self.bar: Any = None
        self._shown = 0  # what the bar has been told (it takes increments)

    # --- tracker listeners ---------------------------------------------------------------------------------
    def on_phase(self, phase: str, total: int | None) -> None:
        if not self.tty:
            return
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(
            total=total,
            unit=" " + UNITS.get(phase, "done").split()[0],
            desc=DESCRIPTIONS.get(phase, phase),
            file=self.stream,
            dynamic_ncols=True,
            mininterval=BAR_MIN_INTERVAL,
            maxinterval=BAR_MIN_INTERVAL * 20,
        )
        self._shown = 0

    def on_update(self, tracker: Tracker) -> None:
        if self.bar is None or tracker.phase is None:
            return
        snap_done = tracker.phase.done
        if tracker.phase.total is not None and self.bar.total != tracker.phase.total:
            self.bar.total = tracker.phase.total
        post = [f"{k}={v:,}" for k, v in sorted(tracker.phase.counts.items()) if v]
        pacer = tracker.pacer
        if pacer is not None and tracker.phase.name == LOAD:
            if pacer.remaining is not None:
                post.append(f"hour left={pacer.remaining:,}")
            if pacer.monthly_remaining is not None:
                post.append(f"month left={pacer.monthly_remaining:,}")
        self.bar.set_postfix_str(", ".join(post), refresh=False)
        if self.bar.desc != DESCRIPTIONS.get(tracker.phase.name, tracker.phase.name):
            self.bar.set_description_str(
                DESCRIPTIONS.get(tracker.phase.name, tracker.phase.name), refresh=False
            )
        # ``update`` redraws only when tqdm's mininterval has passed: the throttling is tqdm's own
        self.bar.update(snap_done - self._shown)
        self._shown = snap_done

    def on_beat(self, snap: Snapshot) -> None:
        if self.tty:
            if snap.final:
                self.close()
            return
        if snap.scheduled:
            self.write(f"{_stamp(snap.at)} {snap.line()}")

    # --- waits (etl.benchmark.pacing.Pacer.on_wait) -------------------------------------------------------
    def wait(self, seconds: float, reason: str, now: float) -> None:
        if self.tty:
            if self.bar is not None and seconds >= 1:
                # the steady pacing waits are drawn with the next update; a long wait is shown at once
                self.bar.set_description_str(
                    f"waiting {seconds:,.0f}s ({reason})", refresh=seconds >= LONG_WAIT
                )
            return
        if seconds >= LONG_WAIT and reason != "pacing":  # the steady pace is in the heartbeat's rate
            self.write(f"{_stamp(now)} waiting {seconds:,.0f}s: {reason}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
