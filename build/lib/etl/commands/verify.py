"""``bme-migrate verify [RUN]``: read a run back from the account and compare it with the ledger (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from etl.commands.common import (
    api_key_file_option,
    report_dir_option,
    run_verify,
    state_dir_option,
    target,
    to_stderr,
)
from etl.commands.target import open_target
from etl.errors import VerificationFailed
from etl.terminal import say
from etl.verify.output import summary_lines


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
@api_key_file_option()
def command(
    run: str | None,
    state_dir: Path | None,
    report_dir: Path | None,
    sample: int | None,
    api_key_file: Path | None,
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
    """
    settings = target(state_dir, api_key_file)
    with open_target(settings, to_stderr) as (url, key):
        result, json_path, note = run_verify(settings, url, key, run, sample=sample, report_dir=report_dir)
    for line in summary_lines(result):
        say(line)
    say(f"verify report: {note}")
    if not result.clean:
        raise VerificationFailed(
            f"{len(result.mismatches):,} mismatch(es) in run {result.run_id}; details in {json_path}"
        )
