"""``migrate``'s progress through the real CLI: a terminal's bar redraws a few times a second at most, with
counts in full; elsewhere heartbeat lines; every run leaves its events in the state dir."""

from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

import pytest

from etl.cli import main
from etl.events import read_events
from tests.e2e.conftest import CLI_ENV, Run
from tests.load_support import people_csv

N = 400


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _csv(tmp_path: Path, n: int = N) -> Path:
    return people_csv(tmp_path, n)


def test_a_terminal_bar_redraws_a_few_times_a_second_with_counts_in_full(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)
    terminal, out = _Terminal(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", out)
    args = [
        "migrate",
        str(_csv(tmp_path)),
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    began = time.monotonic()
    with pytest.raises(SystemExit) as exc:
        main(args)
    elapsed = time.monotonic() - began
    assert exc.value.code == 0, terminal.getvalue() + out.getvalue()
    drawn = terminal.getvalue()
    redraws = drawn.count("\r")
    # three bars (load, verify; the files need none) at most 2 redraws a second each, plus their first and
    # last draws; one redraw per contact (the old bar) would be 400+
    assert redraws <= 2 * elapsed + 12, (redraws, elapsed)
    assert redraws < N / 4
    assert f"{N}/{N}" in drawn and f"created={N}" in drawn and "e+" not in drawn
    assert not re.search(
        r"^\d{4}-\d\d-\d\dT.* load: ", drawn, re.MULTILINE
    )  # no heartbeat lines in a terminal


def test_without_a_terminal_heartbeat_lines_and_the_events_of_the_run(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "s"
    args = [
        "migrate",
        str(_csv(tmp_path, 150)),
        "--state-dir",
        str(state),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    quick_dirs = ["--state-dir", str(tmp_path / "q"), "--report-dir", str(tmp_path / "qr")]
    quick = run([*args[:2], *quick_dirs, "--no-verify"])
    assert quick.exit_code == 0, quick.output
    # the interval is a minute: a run shorter than that adds no line (its summary follows at once)
    assert " load: " not in quick.err and "\r" not in quick.err
    done = run([*args, "--progress-interval", "0.05"])
    assert done.exit_code == 0, done.output
    stamped = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ load: ([\d,]+)/150 contacts \(\d+%\)"
    beats = [int(b) for b in re.findall(stamped, done.err, re.MULTILINE)]
    assert beats and len(beats) < 150 and beats == sorted(beats), done.err
    assert re.search(r"Z load: 150/150 contacts \(100%\) \| created 150 \| .*done in ", done.err)
    assert "\r" not in done.err
    events, _ = read_events(state / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "load_start" in kinds and "finish" in kinds and kinds[-1] == "verified"
    verified = [e for e in events if e["event"] == "verified"]
    assert verified and verified[0]["clean"] is True and verified[0]["checked"] == 150
    finish = next(e for e in events if e["event"] == "finish")
    assert finish["counts"] == {"created": 150} and finish["done"] == finish["total"] == 150

    again = run(args)  # already complete: the log grows by a start and a finish that say so
    assert again.exit_code == 0
    more, _ = read_events(state / "events.jsonl")
    tail = [e for e in more[len(events) :] if e["event"] != "progress"]
    assert [e["event"] for e in tail] == ["start", "finish"] and tail[-1]["already_complete"] is True


def test_a_paused_run_logs_its_pause_and_the_interval_must_be_positive(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "s"
    args = [
        "migrate",
        str(_csv(tmp_path, 30)),
        "--state-dir",
        str(state),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    paused = run([*args, "--max-requests", "12", "--progress-interval", "0.5"])
    assert paused.exit_code == 75, paused.output
    events, _ = read_events(state / "events.jsonl")
    pause = events[-1]
    assert pause["event"] == "pause" and "--max-requests 12 reached" in pause["reason"]
    assert 0 < pause["done"] < pause["total"] == 30 and pause["resume_command"].startswith(
        "bme-migrate migrate"
    )
    assert pause["report"].endswith("report.html")
    bad = run([*args, "--progress-interval", "0"])
    assert bad.exit_code == 2 and "--progress-interval" in bad.output


def test_verify_shows_the_read_backs_progress(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "s"
    dirs = ["--state-dir", str(state), "--report-dir", str(tmp_path / "r")]
    assert run(["migrate", str(_csv(tmp_path, 250)), *dirs, "--no-verify"]).exit_code == 0
    checked = run(["verify", *dirs, "--progress-interval", "0.001"])
    assert checked.exit_code == 0, checked.output
    # the probe's page is spent before the bill: the bill is the two pages after it
    assert re.search(r"Z verify: 2/2 requests \(100%\) \| .*done in ", checked.err), checked.err
