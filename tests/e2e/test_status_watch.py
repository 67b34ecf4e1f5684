"""``bme-migrate status --watch`` following a real run (real HTTP to a slowed sandbox, in a thread of this
process) from its state dir, as another terminal would: lines with done/total, rate and ETA, then the end."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from etl.config import Secret
from etl.events import EventLog
from etl.pipeline.migration import MigrateOptions, MigrateResult, migrate
from etl.sandbox.knobs import Knobs
from tests.e2e.conftest import Run
from tests.load_support import people_csv

N = 150


def _csv(tmp_path: Path, n: int = N) -> Path:
    return people_csv(tmp_path, n)


def test_watch_follows_a_running_migration_until_it_completes(
    run: Run, sandbox_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(latency_ms=15))  # ~2-3 s of loading
    state = tmp_path / "state"
    opts = MigrateOptions(sources=(str(_csv(tmp_path)),), create_fields=True, report_dir=tmp_path / "r")
    outcome: list[MigrateResult | BaseException] = []

    def migration() -> None:
        try:
            outcome.append(migrate(opts, box.url, Secret(box.api_key), state))
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=migration)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not (state / "events.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        watched = run(["status", "--watch", "--every", "0.2", "--state-dir", str(state)])
    finally:
        worker.join(60)
    [result] = outcome
    assert isinstance(result, MigrateResult) and result.state == "complete"
    assert watched.exit_code == 0, watched.output
    lines = watched.out.strip().splitlines()
    following = [line for line in lines if f"run {result.run_id} load: " in line]
    assert following, lines
    assert all(re.search(rf"load: [\d,]+/{N} contacts", line) for line in following)
    # the watcher measures the rate from successive ledger reads and gives the ETA
    assert any(re.search(r"\| [\d,.]+/min \| ETA \d", line) for line in following), lines
    assert lines[-1].endswith(f"run {result.run_id} complete: {N}/{N} contacts | created {N}")


def test_watch_ends_at_once_on_a_paused_run_and_on_an_empty_state_dir(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "s"
    args = [
        "migrate",
        str(_csv(tmp_path, 30)),
        "--state-dir",
        str(state),
        "--report-dir",
        str(tmp_path / "r"),
    ]
    assert run([*args, "--max-requests", "12"]).exit_code == 75
    watched = run(["status", "--watch", "--state-dir", str(state)])
    assert watched.exit_code == 75, watched.output
    assert re.search(r"run \w+ paused \(--max-requests 12 reached\): \d+/30 contacts", watched.out)
    assert "resume with: bme-migrate migrate" in watched.out

    empty = run(["status", "--watch", "--state-dir", str(tmp_path / "nothing")])
    assert empty.exit_code == 0 and "none has run yet" in empty.out

    # a migration that failed reading its sources (no run id yet): the watch says so, exit 1
    missing = str(tmp_path / "missing.csv")
    failed = run(["migrate", missing, "--state-dir", str(state), "--report-dir", str(tmp_path / "r")])
    assert failed.exit_code == 2 and "missing.csv: file not found" in failed.err, failed.err
    watched = run(["status", "--watch", "--state-dir", str(state)])
    assert watched.exit_code == 1 and "ended before its run began: " in watched.out
    assert "missing.csv" in watched.out


def test_ctrl_c_ends_the_watch_with_130(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "s"
    with EventLog.for_state_dir(state) as log:  # a migration of this (live) process is reading its sources
        log.emit("start", sources=["big.csv"])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupted)  # Ctrl-C during the watch's first wait
    watched = run(["status", "--watch", "--state-dir", str(state)])
    assert watched.exit_code == 130
    assert (
        "is reading its sources" in watched.out
        and "stopped watching; the migration itself goes on" in watched.err
    )


def test_plain_status_shows_the_running_runs_last_heartbeat(
    run: Run, sandbox_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(latency_ms=30))
    state = tmp_path / "state"
    opts = MigrateOptions(sources=(str(_csv(tmp_path, 100)),), report_dir=tmp_path / "r", create_fields=True)
    worker = threading.Thread(target=migrate, args=(opts, box.url, Secret(box.api_key), state))
    worker.start()
    seen: dict | None = None
    try:
        deadline = time.monotonic() + 30
        while seen is None and time.monotonic() < deadline:
            shown = run(["status", "--json", "--state-dir", str(state)])
            if shown.exit_code == 0:
                runs = json.loads(shown.out)["runs"]
                seen = next((r for r in runs if r["state"] == "running" and r["progress"]), None)
            if seen is None:
                time.sleep(0.05)
        text = run(["status", "--state-dir", str(state)])
    finally:
        worker.join(60)
    assert seen is not None, "the run was never seen running with a heartbeat"
    assert seen["progress"]["phase"] == "load" and seen["progress"]["total"] == 100
    if "running" in text.out:  # still running when the text was read
        assert "load: " in text.out and "`bme-migrate status --watch` follows it" in text.out


def test_a_run_that_has_begun_but_not_stored_its_plan_is_not_shown_as_0_of_0(tmp_path: Path) -> None:
    """The window between ``start`` and ``add_plan`` (one transaction): the watcher says so, not ``0/0``."""
    from etl.clock import FakeClock
    from etl.commands.watch import follow
    from etl.load.ledger import Ledger

    state = tmp_path / "s"
    lines: list[str] = []
    with Ledger.open(state) as ledger:  # holds the run lock, as a live migration does
        run_id = ledger.run("r1").start(base_url="http://x", structure_id="s1").run_id
        clock = FakeClock()

        def stop(seconds: float) -> None:
            raise KeyboardInterrupt

        clock.sleep = stop  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            follow(state, every=1, clock=clock, out=lines.append)
    assert len(lines) == 1 and f"run {run_id} is storing its plan" in lines[0], lines
    assert "0/0" not in lines[0]
