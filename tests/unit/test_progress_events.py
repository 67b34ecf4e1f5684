"""The heartbeat's timing (on a fake clock), its line, and the event log's file format and guarantees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.events import EventLog, read_events
from etl.progress import LOAD, Snapshot, TickingClock, Tracker


class _Pacer:
    remaining: int | None = 3_000
    monthly_remaining: int | None = 48_000
    sent = 0


def test_beats_come_at_the_interval_and_at_phase_start_and_end() -> None:
    clock = FakeClock()
    beats: list[Snapshot] = []
    tracker = Tracker(clock, interval=60, on_beat=beats.append)
    tracker.begin(LOAD, 1_000)
    for done in range(1, 1_001):
        clock.advance(1)  # one contact a second
        tracker.update(done, {"created": done})
    tracker.end()
    times = [b.at - beats[0].at for b in beats]
    assert times[0] == 0 and times[-1] == 1_000
    # one beat per 60 s of progress, never two within the interval, plus the final one
    assert times[1:-1] == [60.0 * k for k in range(1, 17)]
    assert [b.final for b in beats] == [False] * 17 + [True]
    middle = beats[10]
    assert middle.done == 600 and middle.rate == pytest.approx(1.0)
    assert middle.eta_seconds == pytest.approx(400.0)


def test_a_long_wait_keeps_the_heartbeat_through_a_ticking_clock() -> None:
    clock = FakeClock()
    beats: list[Snapshot] = []
    tracker = Tracker(clock, interval=60, on_beat=beats.append)
    ticking = TickingClock(clock, tracker)
    tracker.begin(LOAD, 10)
    tracker.update(3, {"created": 3})
    ticking.sleep(3_600)  # the hourly window is spent: an hour without a single contact
    assert len(beats) == 1 + 60  # the start, then one a minute while it waited
    assert beats[0].done == 0 and all(b.done == 3 for b in beats[1:])
    assert clock.sleeps == [60.0] * 60


def test_the_line_shows_integers_in_full_and_the_allowance_left() -> None:
    clock = FakeClock()
    tracker = Tracker(clock, interval=60)
    tracker.attach(_Pacer())
    tracker.begin(LOAD, 50_003)
    clock.advance(60)
    tracker.update(50_000, {"created": 49_000, "updated": 1_000, "failed": 0})
    line = tracker.snapshot().line()
    assert line.startswith("load: 50,000/50,003 contacts (99%) | created 49,000, updated 1,000 | ")
    assert "requests left: 3,000 this hour, 48,000 this month" in line
    assert "50,000.0/min" in line and "ETA 0s" in line
    assert "e+" not in line and "failed" not in line  # no 5e+4, no zero counts


def test_the_event_log_appends_one_flushed_json_object_a_line(tmp_path: Path) -> None:
    clock = FakeClock(start=1_800_000_000)
    log = EventLog.for_state_dir(tmp_path / "state", clock)
    log.emit("start", sources=["a.csv"])
    # flushed per line: a reader sees it while the writer keeps the file open
    first, offset = read_events(log.path)
    assert [e["event"] for e in first] == ["start"]
    assert first[0]["at"] == "2027-01-15T08:00:00+00:00" and first[0]["run_id"] is None
    log.bind("abc123")
    log.emit("finish", state="complete", counts={"created": 2})
    log.close()
    more, end = read_events(log.path, offset=offset)
    assert [(e["event"], e["run_id"], e["counts"]) for e in more] == [("finish", "abc123", {"created": 2})]
    assert end == log.path.stat().st_size
    lines = log.path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["pid"] > 0 for line in lines)


def test_a_half_written_line_waits_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "start"}\n{"event": "progr', encoding="utf-8")
    events, offset = read_events(path)
    assert [e["event"] for e in events] == ["start"]
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('ess"}\n')
    events, _ = read_events(path, offset=offset)
    assert [e["event"] for e in events] == ["progress"]


def test_a_secret_is_never_written(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    with pytest.raises(TypeError, match="Secret"):
        log.emit("start", key=Secret("bme_live_key"))
    log.close()
    assert not (tmp_path / "events.jsonl").exists() or "bme_live_key" not in (
        tmp_path / "events.jsonl"
    ).read_text(encoding="utf-8")


def test_an_unwritable_log_never_stops_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = EventLog(blocker / "events.jsonl")
    log.emit("start")  # the state dir is a file: remembered, not raised
    log.emit("finish")
    assert log.error is not None and "events.jsonl" in log.error
