"""``bme-migrate validate``: the dry run. Reads the export, validates it, writes the report; no Benchmark request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from etl import paths
from etl.atomic import writable_dir
from etl.clock import SystemClock
from etl.commands.common import (
    InputChoices,
    console_options,
    echo_page,
    input_options,
    json_option,
    legacy_from,
    legacy_options,
    report_dir_option,
    rows_bar,
    sources_argument,
    state_dir_option,
    state_path,
    warn,
)
from etl.errors import ValidationBlocked
from etl.mapping.plan import report_section
from etl.pipeline.inputs import read_inputs
from etl.terminal import FINAL, console, say
from etl.validate.report import validation_lines, write_report


@click.command("validate", short_help="Check an export and write its report; no Benchmark request.")
@sources_argument()
@input_options(
    preset_help="Platform preset to read the export with (default: detected from headers and file names; "
    "legacy_api for a legacy+https:// source)."
)
@report_dir_option(
    "Where to write report.json, report.html and rejects.csv [default: reports/validate-<UTC timestamp>]."
)
@click.option(
    "--fail-on-rejects", is_flag=True, help="Exit with code 3 when any row was rejected (for scripts and CI)."
)
@legacy_options()
@state_dir_option("Where a legacy API source's snapshot is kept [default: $BME_STATE_DIR or .etl].")
@json_option("Print report.json on stdout and nothing else (every other line goes to stderr).")
@console_options()
def command(
    sources: tuple[str, ...],
    inputs: InputChoices,
    report_dir: Path | None,
    fail_on_rejects: bool,
    legacy_status: str | None,
    legacy_fresh: bool,
    state_dir: Path | None,
    as_json: bool,
) -> None:
    """Dry run: check an export and report what a migration would do. Makes no Benchmark API request.

    Writes report.json (for scripts), report.html (for people) and rejects.csv (the rejected rows in
    their original columns with a reason, to fix and validate again), and prints a short summary.
    SOURCE may also be a legacy platform's API, legacy+https://host/base (token in LEGACY_API_TOKEN):
    its contacts are paged into a snapshot in the state dir, which `migrate` then reuses.

    \b
    Examples:
      bme-migrate validate members_export.zip
      bme-migrate validate contacts.csv --preset hubspot --report-dir reports/hubspot
      bme-migrate validate a.csv b.csv --mapping my_mapping.toml --fail-on-rejects
      bme-migrate validate kunden.csv --encoding cp1250 --delimiter ";"
      LEGACY_API_TOKEN=… bme-migrate validate legacy+https://legacy.example.com --legacy-status subscribed
    """
    chosen = inputs.chosen_preset()
    read_opts = inputs.read_options()
    legacy = legacy_from(sources, legacy_status, legacy_fresh)
    now = datetime.fromtimestamp(SystemClock().now(), UTC)
    out_dir = paths.report_dir(report_dir, f"validate-{now:%Y%m%dT%H%M%SZ}")
    writable_dir(out_dir)  # before reading a byte: an unwritable report dir is found in a second, not an hour
    with rows_bar() as bar:
        read = read_inputs(
            sources,
            preset=chosen,
            state_dir=state_path(state_dir),
            legacy=legacy,
            progress=bar.update,
            on_page=echo_page,
            field_values=False,  # the report needs fill rates, not the cells: a fraction of the memory
            consent=inputs.consent(),
            options=read_opts,
        )
    for warning in read.warnings:
        warn(warning)
    result = read.validation
    files, doc = write_report(
        result, out_dir, generated_at=now.isoformat(timespec="seconds"), mapping=report_section(result)
    )
    for line in validation_lines(doc):
        say(line)
    say(f"report: {files.html} · {files.json.name} · {files.rejects.name}", level=FINAL)
    if result.consent.unclear:  # migrate would stop here: say so now, in the same words
        warn(result.consent.stop_message().replace("nothing was written", "migrate will stop"))
    if as_json:
        console().document(files.json.read_text(encoding="utf-8"))
    if fail_on_rejects and result.counts.rejected:
        raise ValidationBlocked(
            f"{result.counts.rejected:,} row(s) rejected (--fail-on-rejects); see {files.rejects}"
        )
