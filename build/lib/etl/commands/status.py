"""``bme-migrate status``: every run in a state dir — progress, pause reason, when and how to resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from etl.commands.common import json_option, state_dir_option, target
from etl.load.ledger import Ledger, ledger_errors, lock_holder
from etl.terminal import say

INTERRUPTED = "interrupted"


@click.command("status", short_help="Every run: rows by outcome, requests, how to resume.")
@state_dir_option("State directory to read [default: $BME_STATE_DIR or .etl].")
@json_option("Print one JSON document instead of text.")
def command(state_dir: Path | None, as_json: bool) -> None:
    """Show each migration run: rows by outcome, requests used, pause reason and resume time.

    Reads the ledger read-only without taking the run lock, so it works while a migration is running and
    on a read-only state dir. A run the ledger says is running but whose process is gone (killed) is shown
    as interrupted, with the command that resumes it.

    \b
    Example:
      bme-migrate status --state-dir .etl
    """
    sdir = target(state_dir).state_dir
    runs: list[dict[str, Any]] = []
    with Ledger.open(sdir, readonly=True) as ledger, ledger_errors(ledger.path):
        held, pid = lock_holder(sdir)
        infos = ledger.runs()
        live = next((i.run_id for i in infos if i.state == "running"), None) if held else None
        for info in infos:
            rows = ledger.row_totals(info.run_id)
            requests = ledger.request_counts(info.run_id)
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
                }
            )
    if as_json:
        say(json.dumps({"state_dir": str(sdir), "runs": runs}, indent=2))
        return
    if not runs:
        say(f"no runs yet in {sdir}")
        return
    for run in runs:
        total = sum(run["rows"].values())
        settled = total - run["rows"].get("pending", 0)
        shown = {INTERRUPTED: f"{INTERRUPTED} (no process holds its lock)", "running": "running"}.get(
            run["state"], run["state"]
        )
        if run["pid"]:
            shown += f" (pid {run['pid']})"
        say(
            f"run {run['run_id']}  {shown}  {settled:,}/{total:,} rows settled  "
            f"{run['requests']:,} requests  (updated {run['updated_at']})"
        )
        if run["sources"]:
            say(f"  sources: {run['sources']}")
        say("  rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(run["rows"].items())))
        if run["state"] in ("paused", "failed") and run["pause_reason"]:
            say(f"  {run['state']}: {run['pause_reason']}")
        if run["resume_after"]:
            say(f"  resume after: {run['resume_after']} (UTC)")
        if run["state"] != "complete" and run["resume_command"]:
            say(f"  resume with: {run['resume_command']}")
        elif run["state"] == INTERRUPTED:
            say("  resume with: the same command again")
