"""``bme-migrate validate``: the dry run. Reads the export, validates it, writes the report; no API request."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from etl.clock import SystemClock
from etl.errors import ConfigError, ValidationBlocked
from etl.mapping.presets import load_preset, preset_names
from etl.validate.core import validate_sources
from etl.validate.report import summary_lines, write_report


def _progress_bar() -> Any:
    """Rows-read counter on stderr, fed by extract after each file; silent when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(
        unit=" rows",
        unit_scale=True,
        desc="reading",
        file=sys.stderr,
        leave=False,
        disable=not sys.stderr.isatty(),
    )


@click.command("validate")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--preset",
    metavar="NAME",
    help="Platform preset to read the export with (default: detected from headers and file names).",
)
@click.option(
    "--mapping",
    "mapping_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your own mapping TOML (may `extends` a preset); replaces --preset.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write report.json, report.html and rejects.csv "
    "[default: reports/validate-<UTC timestamp>].",
)
@click.option(
    "--fail-on-rejects", is_flag=True, help="Exit with code 3 when any row was rejected (for scripts and CI)."
)
def command(
    sources: tuple[str, ...],
    preset: str | None,
    mapping_file: Path | None,
    report_dir: Path | None,
    fail_on_rejects: bool,
) -> None:
    """Dry run: check an export and report what a migration would do. Makes no API request.

    Writes report.json (for scripts), report.html (for people) and rejects.csv (the rejected rows in
    their original columns with a reason, to fix and validate again), and prints a short summary.

    \b
    Examples:
      bme-migrate validate members_export.zip
      bme-migrate validate contacts.csv --preset hubspot --report-dir reports/hubspot
      bme-migrate validate a.csv b.csv --mapping my_mapping.toml --fail-on-rejects
    """
    if preset and mapping_file:
        raise ConfigError("use either --preset or --mapping, not both")
    if preset and preset not in preset_names() and not Path(preset).exists():
        raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(preset_names())}")
    choice = mapping_file or preset
    chosen = load_preset(choice) if choice else None
    now = datetime.fromtimestamp(SystemClock().now(), UTC)
    out_dir = report_dir or Path("reports") / f"validate-{now:%Y%m%dT%H%M%SZ}"
    with _progress_bar() as bar:
        result = validate_sources(sources, preset=chosen, progress=bar.update)
    files, doc = write_report(result, out_dir, generated_at=now.isoformat(timespec="seconds"))
    for line in summary_lines(doc):
        click.echo(line)
    click.echo(f"report: {files.html} · {files.json.name} · {files.rejects.name}")
    if fail_on_rejects and result.counts.rejected:
        raise ValidationBlocked(
            f"{result.counts.rejected:,} row(s) rejected (--fail-on-rejects); see {files.rejects}"
        )
