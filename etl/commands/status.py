"""``bme-migrate status``: every run in a state dir — progress, pause reason, when and how to resume.

``--watch`` follows a running migration from another terminal (``etl.commands.watch``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from etl.commands.common import (
    console_options,
    json_option,
    print_document,
    state_dir_option,
    target,
    watch_options,
)
from etl.commands.watch import follow
from etl.events import PROGRESS, events_path, read_events, tail_offset
from etl.load.ledger import Ledger, ledger_errors, lock_holder
from etl.progress import eta_text, rate_text
from etl.terminal import FINAL, say

INTERRUPTED = "interrupted"


@click.command("status", short_help="Every run: rows by outcome, requests, how to resume.")
@state_dir_option("State directory to read [default: $BME_STATE_DIR or .etl].")
@json_option("Print one JSON document instead of text.")
@watch_options()
@console_options()
def command(state_dir: Path | None, as_json: bool, watch: bool, every: float) -> None:
    """Show each migration run: rows by outcome, requests used, pause reason and resume time.

    Reads the ledger read-only without taking the run lock, so it works while a migration is running and
    on a read-only state dir. A run the ledger says is running but whose process is gone (killed) is shown
    as interrupted, with the command that resumes it.

    With --watch it follows the running migration instead: done/total, outcomes, rate and ETA every
    few seconds, read from the ledger and <state dir>/events.jsonl, until the run finishes.

    \b
    Examples:
      bme-migrate status --state-dir .etl
      bme-migrate status --watch --every 10
    """
    sdir = target(state_dir).state_dir
    if watch:
        try:
            code = follow(sdir, every=every)
        except KeyboardInterrupt:  # only the watch ends: the migration is another process
            say("stopped watching; the migration itself goes on", err=True)
            raise click.exceptions.Exit(130) from None
        if code:
            raise click.exceptions.Exit(code)
        return
    runs: list[dict[str, Any]] = []
    beats = _last_beats(sdir)
    with Ledger.open(sdir, readonly=True) as ledger, ledger_errors(ledger.path):
        held, pid = lock_holder(sdir)
        infos = ledger.runs()
        live = next((i.run_id for i in infos if i.state == "running"), None) if held else None
        for info in infos:
            rows = ledger.run(info.run_id).row_totals()
            requests = ledger.run(info.run_id).request_counts()
            state = info.state
            if state == "running" and info.run_id != live:
                state = INTERRUPTED  # its process is gone: the kernel released its lock
            runs.append(
                {
                    "run_id": info.run_id,
                    "state": state,
                    "pid": pid if info.run_id == live else None,
                    "sources": info.label,
                    "updated_at": datetime.fromtimestamp(info.updated_at, UTC).isoformat(timespec="seconds"),
                    "rows": rows,
                    "requests": sum(requests.values()),
                    "pause_reason": info.pause_reason,
                    "resume_after": info.resume_after,
                    "resume_command": info.resume_command,
                    # the running run's last heartbeat (rate, ETA, requests left): events.jsonl
                    "progress": beats.get(info.run_id) if info.run_id == live else None,
                }
            )
    if as_json:
        print_document("status", {"state_dir": str(sdir), "runs": runs})
        return
    if not runs:
        say(f"no runs yet in {sdir}", level=FINAL)
        return
    for run in runs:
        total = sum(run["rows"].values())
        settled = total - run["rows"].get("pending", 0)
        shown = {INTERRUPTED: f"{INTERRUPTED} (no process holds its lock)", "running": "running"}.get(
            run["state"], run["state"]
        )
        if run["pid"]:
            shown += f" (pid {run['pid']})"
        say(  # one line a run: what --quiet keeps
            f"run {run['run_id']}  {shown}  {settled:,}/{total:,} rows settled  "
            f"{run['requests']:,} requests  (updated {run['updated_at']})",
            level=FINAL,
        )
        if run["sources"]:
            say(f"  sources: {run['sources']}")
        if run["progress"]:
            beat = run["progress"]
            rate = beat.get("rate_per_min")
            now = datetime.fromisoformat(beat["at"]).timestamp()
            say(
                f"  {beat.get('phase')}: {beat.get('done'):,}/{beat.get('total') or 0:,} at {beat['at']}, "
                f"{rate_text(rate / 60 if rate else None)}, {eta_text(beat.get('eta_seconds'), now)}"
                " (`bme-migrate status --watch` follows it)"
            )
        say("  rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(run["rows"].items())))
        if run["state"] in ("paused", "failed") and run["pause_reason"]:
            say(f"  {run['state']}: {run['pause_reason']}")
        if run["resume_after"]:
            say(f"  resume after: {run['resume_after']} (UTC)")
        if run["state"] != "complete" and run["resume_command"]:
            say(f"  resume with: {run['resume_command']}")
        elif run["state"] == INTERRUPTED:
            say("  resume with: the same command again")


def _last_beats(state_dir: Path) -> dict[str, dict[str, Any]]:
    """run id → its last ``progress`` event (the latest part of events.jsonl only)."""
    path = events_path(state_dir)
    events, _ = read_events(path, offset=tail_offset(path))
    return {e["run_id"]: e for e in events if e.get("event") == PROGRESS and e.get("run_id")}
