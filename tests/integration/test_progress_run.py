"""Progress of a real run (real HTTP to the sandbox) that waits for its hourly window, on a fake clock:
heartbeat lines at the interval through the waits, and the events a monitor reads from events.jsonl."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx

from etl.clock import FakeClock
from etl.commands.progress import ProgressDisplay
from etl.config import Secret
from etl.events import read_events
from etl.load.loader import Progress
from etl.pipeline.migration import Hooks, MigrateOptions, migrate
from etl.progress import Tracker
from etl.sandbox.knobs import Knobs
from tests.load_support import people_csv

N = 60
INTERVAL = 300.0


def _csv(tmp_path: Path) -> Path:
    return people_csv(tmp_path, N)


def test_a_paced_run_beats_at_the_interval_and_logs_its_events(sandbox_factory, tmp_path: Path) -> None:
    clock = FakeClock()
    # 25 requests an hour for ~65: the run waits for two window resets, an hour each on the fake clock
    box = sandbox_factory(knobs=Knobs(hourly_limit=25, monthly_limit=10**6), clock=clock)
    lines: list[str] = []
    display = ProgressDisplay(stream=io.StringIO(), write=lines.append)  # not a terminal
    assert not display.tty
    tracker = Tracker(
        clock,
        interval=INTERVAL,
        on_beat=display.on_beat,
        on_update=display.on_update,
        on_phase=display.on_phase,
    )
    burned: list[int] = []

    def other_integration(progress: Progress) -> None:
        """After our 5th contact someone else spends what is left of the window: we get a 429 and wait."""
        if progress.done == 5 and not burned:
            with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as other:
                while other.get("/api/contact-structure").status_code == 200:
                    burned.append(1)

    hooks = Hooks(
        on_wait=lambda s, reason: display.wait(s, reason, clock.now()),
        on_progress=other_integration,
        tracker=tracker,
    )
    opts = MigrateOptions(
        sources=(str(_csv(tmp_path)),),
        create_fields=True,
        report_dir=tmp_path / "r",
        resume_command="bme-migrate migrate contacts.csv",
    )
    state = tmp_path / "state"
    result = migrate(opts, box.url, Secret(box.api_key), state, hooks=hooks, clock=clock)
    assert result.state == "complete"
    elapsed = clock.now() - 1_800_000_000.0
    assert elapsed >= 2 * 3600  # it really waited

    beats = [line for line in lines if " load: " in line]
    # the first line comes one interval in (the phase's start is an event, not a line)
    assert beats[0].startswith("2027-01-15T08:05:00Z load: ") and "/min | ETA " in beats[0]
    assert (
        "load: 60/60 contacts (100%) | created 60 | requests left: " in beats[-1] and "done in" in beats[-1]
    )
    # a beat every INTERVAL seconds of the fake clock, waits included: never closer, never a gap
    events, _ = read_events(state / "events.jsonl")
    progress = [e for e in events if e["event"] == "progress" and e["phase"] == "load"]
    assert len(progress) == len(beats) + 1 and progress[0]["done"] == 0  # + the beat at the phase start
    stamps = [_seconds(e["at"]) for e in progress]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g == INTERVAL for g in gaps[:-1]), "\n".join([str(gaps), *lines])  # the last: the final beat
    assert len(beats) >= elapsed // INTERVAL
    # the 429's long wait gets a line; the steady pacing does not (the beats' rate says it)
    assert burned and any("waiting" in line and "rate limited by the server" in line for line in lines)
    assert not any("pacing" in line for line in lines), lines
    mid = progress[len(progress) // 2]
    assert mid["rate_per_min"] and mid["eta_seconds"] is not None and mid["hour_left"] is not None

    # events.jsonl: the documented sequence, every line with event/at/run_id/pid, the counts of the run
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[1] == "load_start" and kinds[-1] == "finish"
    assert set(kinds) == {
        "start",
        "load_start",
        "progress",
        "quota_wait",
        "finish",
    }
    assert events[0]["run_id"] is None and all(e["run_id"] == result.run_id for e in events[1:])
    assert all({"event", "at", "run_id", "pid"} <= set(e) for e in events)
    start = events[1]
    assert start["total"] == N and start["done"] == 0 and start["resumed"] is False
    finish = events[-1]
    assert finish["state"] == "complete" and finish["done"] == finish["total"] == N
    assert finish["counts"] == {"created": N} and finish["rows"] == {"created": N}
    assert finish["requests"] == result.requests_total and finish["report"].endswith("report.html")
    wait = next(e for e in events if e["event"] == "quota_wait")
    assert wait["seconds"] > 0 and "rate limited by the server" in wait["reason"]
    assert box.api_key not in (state / "events.jsonl").read_text(encoding="utf-8")
    assert all(json.loads(x) for x in (state / "events.jsonl").read_text(encoding="utf-8").splitlines())


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
