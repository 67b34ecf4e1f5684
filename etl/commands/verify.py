"""``bme-migrate verify [RUN]``: read a run back from the account and compare it with the ledger (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from etl.clock import SystemClock
from etl.commands.common import (
    api_key_file_option,
    chosen_patience,
    console_options,
    json_option,
    patience_options,
    progress_interval_option,
    report_dir_option,
    run_verify,
    state_dir_option,
    target,
    to_stderr,
)
from etl.commands.progress import ProgressDisplay
from etl.commands.target import open_target
from etl.errors import VerificationFailed
from etl.progress import TickingClock, Tracker
from etl.terminal import FINAL, console, say
from etl.verify.output import verify_lines


@click.command("verify", short_help="Read a run back from the account; compare with the ledger.")
@click.argument("run", required=False, metavar="[RUN]")
@state_dir_option("State directory holding the run's ledger [default: $BME_STATE_DIR or .etl].")
@report_dir_option("Where verify.json goes, next to the run's report.html [default: reports/<run id>].")
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Check a random sample of N keys (seeded by the run id, so a re-run checks the same ones) "
    "[default: every key, if that fits in 10% of the hourly requests left; else a sample that fits].",
)
@patience_options()
@progress_interval_option(
    "When stderr is not a terminal: one line every SECONDS with the read-back's requests done/billed, rate "
    "and ETA, e.g. --progress-interval 30 (a terminal gets a live bar)."
)
@api_key_file_option()
@json_option("Print verify.json on stdout and nothing else (every other line goes to stderr).")
@console_options()
def command(
    run: str | None,
    state_dir: Path | None,
    report_dir: Path | None,
    sample: int | None,
    max_outage: str,
    wait_for_quota: bool,
    max_wait: str,
    progress_interval: float,
    api_key_file: Path | None,
    as_json: bool,
) -> None:
    """Check that a migration run landed: every contact once, with its fields, lists, tags and status.

    RUN is a run id or a unique prefix (see `bme-migrate status`); the default is the most recent run.
    Verify sends searches only (never a write), prints its request bill before spending it, and
    compares what the account holds with what the run's ledger says it wrote, under the run's
    --on-existing policy. Skipped, failed and rejected rows are counted, not checked. The target must
    be the one the run used (same BME_BASE_URL, or the embedded sandbox of the same state dir).
    Writes verify.json to the report dir and adds a section to the run's report.html.
    `bme-migrate migrate` already runs this after a complete migration (unless --no-verify).
    Exit 0 when clean, 5 when anything differs.

    \b
    Examples:
      bme-migrate verify                       # the latest run, every key if the budget allows
      bme-migrate verify 7e3c918c --sample 500 # a seeded sample of 500 keys of run 7e3c918c…
      bme-migrate verify --max-outage 30m --wait-for-quota  # ride out outages and a spent quota
    """
    patience = chosen_patience(max_outage, wait_for_quota, max_wait)
    settings = target(state_dir, api_key_file)
    display = ProgressDisplay()
    tracker = Tracker(
        SystemClock(),
        interval=progress_interval,
        on_beat=display.on_beat,
        on_update=display.on_update,
        on_phase=display.on_phase,
    )
    try:
        with open_target(settings, to_stderr, doing="reading back from") as (url, key):
            result, json_path, note = run_verify(
                settings,
                url,
                key,
                run,
                sample=sample,
                report_dir=report_dir,
                clock=TickingClock(SystemClock(), tracker),  # beats through the pacing's waits too
                tracker=tracker,
                patience=patience,
            )
    finally:
        display.close()
    lines = verify_lines(result)
    for line in lines[:-1]:
        say(line)
    say(lines[-1], level=FINAL)  # "verified: clean" or "verify FOUND MISMATCHES"
    say(f"verify report: {note}")
    if as_json:
        console().document(json_path.read_text(encoding="utf-8"))
    if not result.clean:
        raise VerificationFailed(
            f"{len(result.mismatches):,} mismatch(es) in run {result.run_id}; details in {json_path}"
        )
