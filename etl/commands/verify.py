"""``bme-migrate verify [RUN]``: read a run back from the account and compare it with the ledger (read-only)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from etl.commands.target import open_target
from etl.config import target_from_env
from etl.errors import VerificationFailed
from etl.load.verify import VerifyOptions, verify
from etl.load.verify_read import ReadPlan
from etl.load.verify_report import (
    append_to_report,
    plan_lines,
    section_html,
    summary_lines,
    write_verify_json,
)


@click.command("verify")
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory holding the run's ledger [default: $BME_STATE_DIR or .etl].",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where verify.json goes, next to the run's report.html [default: reports/<run id>].",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Check a random sample of N keys (seeded by the run id, so a re-run checks the same ones) "
    "[default: every key, if that fits in 10% of the hourly requests left; else a sample that fits].",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File whose first line is the API key (overrides BME_API_KEY).",
)
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
    Exit 0 when clean, 5 when anything differs.

    \b
    Examples:
      bme-migrate verify                       # the latest run, every key if the budget allows
      bme-migrate verify 7e3c918c --sample 500 # a seeded sample of 500 keys of run 7e3c918c…
    """
    settings = target_from_env(os.environ, state_dir=state_dir, key_file=api_key_file)

    def show_plan(plan: ReadPlan) -> None:
        for line in plan_lines(plan):
            click.echo(line)

    with open_target(settings, lambda m: click.echo(m, err=True)) as (url, key):
        result = verify(
            settings.state_dir,
            url,
            key,
            VerifyOptions(run=run, sample=sample, embedded=settings.embedded),
            on_plan=show_plan,
        )
    out_dir = report_dir or Path("reports") / result.run_id
    json_path = write_verify_json(result, out_dir)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if append_to_report(out_dir / "report.html", section_html(result, now)):
        json_path_note = f"{json_path} (and a section in {out_dir / 'report.html'})"
    else:
        json_path_note = str(json_path)
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"verify report: {json_path_note}")
    if not result.clean:
        raise VerificationFailed(
            f"{len(result.mismatches):,} mismatch(es) in run {result.run_id}; details in {json_path}"
        )
