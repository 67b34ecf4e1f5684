"""What several commands share: click option bundles and the small steps every command repeats.

Option bundles are decorators, so a command reads as its list of options, and one flag has one spelling
and one meaning everywhere. Help texts that differ by command (where a state dir or report goes) are
parameters with the common wording as default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import click

from etl.atomic import writable_dir
from etl.clock import Clock
from etl.config import DEFAULT_STATE_DIR, ENV_STATE_DIR, Secret, TargetSettings, target_from_env
from etl.errors import ConfigError
from etl.extract.legacy_api import legacy_token_from_env
from etl.extract.options import ReadOptions, read_options
from etl.model import Status
from etl.pipeline.inputs import LegacyOptions, has_legacy_source
from etl.presets.consent import parse_status
from etl.presets.preset import ConsentChoices, Preset, load_preset, preset_names
from etl.terminal import say
from etl.verify.output import append_to_report, plan_lines, section_html, write_verify_json
from etl.verify.readback import ReadPlan
from etl.verify.verifier import VerifyOptions, VerifyResult, verify

F = TypeVar("F", bound=Callable[..., Any])

STATE_DIR_HELP = "Ledger, lock and embedded sandbox directory [default: $BME_STATE_DIR or .etl]."
MAPPING_HELP = "Your own mapping TOML (may `extends` a preset); replaces --preset."


def _bundle(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """Apply ``decorators`` in the order written (click lists options in that order in --help)."""

    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def sources_argument() -> Callable[[F], F]:
    return click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")


def state_dir_option(help_text: str = STATE_DIR_HELP) -> Callable[[F], F]:
    return click.option(
        "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=help_text
    )


def report_dir_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=help_text
    )


def json_option(help_text: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def api_key_file_option() -> Callable[[F], F]:
    return click.option(
        "--api-key-file",
        # no click checks: click's messages would echo the value, which may be a key pasted here
        type=click.Path(path_type=Path),
        default=None,
        help="File holding the API key on one line (overrides BME_API_KEY).",
    )


def preset_options(
    preset_help: str = "Platform preset (default: detected from headers and file names; "
    "legacy_api for a legacy+https:// source).",
    mapping_help: str = MAPPING_HELP,
) -> Callable[[F], F]:
    """``--preset NAME`` and ``--mapping FILE`` (mutually exclusive; see ``chosen_preset``)."""
    return _bundle(
        click.option("--preset", metavar="NAME", help=preset_help),
        click.option(
            "--mapping",
            "mapping_file",
            metavar="FILE",
            type=click.Path(dir_okay=False, path_type=Path),
            help=mapping_help,
        ),
    )


def consent_options() -> Callable[[F], F]:
    """``--status-column``, ``--status-value`` and ``--ignore-column``: what a person says about consent
    columns the tool cannot read alone (see ``chosen_consent``)."""
    return _bundle(
        click.option(
            "--status-column",
            metavar="COL",
            default=None,
            help="The column that holds each person's status (its words read with the preset's values, "
            "the built-in vocabulary and --status-value).",
        ),
        click.option(
            "--status-value",
            "status_values",
            multiple=True,
            metavar="WORD=STATUS",
            help="How a status word reads: STATUS is subscribed, unsubscribed, cleaned, pending or "
            "no_consent (repeatable).",
        ),
        click.option(
            "--ignore-column",
            "ignore_columns",
            multiple=True,
            metavar="COL",
            help="COL carries no consent: handle it like any other column (repeatable).",
        ),
    )


def read_flags() -> Callable[[F], F]:
    """``--encoding NAME`` and ``--delimiter CHAR``: override detection for every text file of the run;
    ``--max-archive-size`` / ``--max-archive-ratio``: the ZIP expansion caps (all turned into ``ReadOptions`` by ``chosen_read``, which refuses unknown values in one line)."""
    return _bundle(
        click.option(
            "--encoding",
            metavar="NAME",
            default=None,
            help="Read every text file in this encoding (utf-8, cp1252, cp1250, cp1251, shift_jis, gb18030, "
            "utf-16 …) instead of detecting it.",
        ),
        click.option(
            "--delimiter",
            metavar="CHAR",
            default=None,
            help="Delimiter of every CSV/TSV/TXT file: , ; | or tab [default: detected per file].",
        ),
        click.option(
            "--max-archive-size",
            metavar="BYTES",
            default=None,
            help="Stop when ZIP members expand past this many bytes in all, e.g. 8G "
            "[default: $BME_MAX_ARCHIVE_SIZE or 2G].",
        ),
        click.option(
            "--max-archive-ratio",
            metavar="N",
            default=None,
            help="Stop when a ZIP member expands more than N times its compressed size "
            "[default: $BME_MAX_ARCHIVE_RATIO or 200].",
        ),
    )


def chosen_consent(
    status_column: str | None, status_values: Sequence[str], ignore_columns: Sequence[str]
) -> ConsentChoices:
    """The consent flags as ``ConsentChoices``; a malformed ``--status-value`` is a usage error."""
    values: dict[str, Status] = {}
    for pair in status_values:
        word, sep, status = pair.rpartition("=")
        if not sep or not word.strip():
            raise ConfigError(f'--status-value {pair!r}: expected WORD=STATUS, e.g. "no=unsubscribed"')
        try:
            values[word.strip()] = parse_status(status)
        except ValueError as exc:
            raise ConfigError(f"--status-value {pair!r}: {exc}") from None
    return ConsentChoices(status_column, MappingProxyType(values), tuple(ignore_columns))


def chosen_read(
    encoding: str | None,
    delimiter: str | None,
    max_archive_size: str | None = None,
    max_archive_ratio: str | None = None,
) -> ReadOptions:
    """``ReadOptions`` from ``--encoding`` / ``--delimiter`` / the archive caps; ``ConfigError`` (exit 2)
    for an unknown or malformed one."""
    return read_options(encoding, delimiter, max_archive_size, max_archive_ratio)


def create_options(
    fields_help: str = "Create missing custom fields in the contact structure.",
) -> Callable[[F], F]:
    return _bundle(
        click.option("--create-fields", is_flag=True, help=fields_help),
        click.option("--create-lists", is_flag=True, help="Create missing lists."),
        click.option("--create-tags", is_flag=True, help="Create missing tags in the contact structure."),
    )


def legacy_options() -> Callable[[F], F]:
    """``--legacy-status`` and ``--legacy-fresh``: only for a ``legacy+https://`` SOURCE."""
    return _bundle(
        click.option(
            "--legacy-status",
            type=click.Choice(["subscribed", "unsubscribed"]),
            default=None,
            help="Legacy API source only: read just these contacts (filtered by the API) [default: all].",
        ),
        click.option(
            "--legacy-fresh",
            is_flag=True,
            help="Legacy API source only: discard the saved snapshot and page the API again.",
        ),
    )


def chosen_preset(preset: str | None, mapping_file: Path | None) -> Preset | None:
    """The preset to read with: ``--mapping`` file, ``--preset`` name/file, or None (detect)."""
    if preset and mapping_file:
        raise ConfigError("use either --preset or --mapping, not both")
    if mapping_file:
        return load_preset(mapping_file)
    if preset and preset not in preset_names() and not Path(preset).exists():
        raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(preset_names())}")
    return load_preset(preset) if preset else None


def target(state_dir: Path | None, api_key_file: Path | None = None) -> TargetSettings:
    return target_from_env(os.environ, state_dir=state_dir, key_file=api_key_file)


def state_path(state_dir: Path | None) -> Path:
    """The state dir alone, for commands that never talk to Benchmark (no key or URL checks)."""
    return Path(state_dir or os.environ.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR)


def to_stderr(message: str) -> None:
    say(message, err=True)


def legacy_from(sources: Sequence[str], status: str | None, fresh: bool) -> LegacyOptions:
    """The legacy options for a run; the token is read from LEGACY_API_TOKEN only when a source needs it."""
    token: Secret | None = legacy_token_from_env(os.environ) if has_legacy_source(sources) else None
    return LegacyOptions(token=token, status=status, fresh=fresh)


def echo_page(offset: int, records: int, total: int | None) -> None:
    """One progress line per legacy API page (stderr, so stdout stays the summary)."""
    upto = offset + records
    of = f" of {total:,}" if total is not None else ""
    to_stderr(f"legacy API: read contacts {offset + 1:,}–{upto:,}{of}")


def rows_bar() -> Any:
    """Rows-read counter on stderr, fed by extract after each block (~16 MiB); silent when stderr is not a
    terminal."""
    from tqdm import tqdm

    return tqdm(
        unit=" rows",
        unit_scale=True,
        desc="reading",
        file=sys.stderr,
        leave=False,
        disable=not sys.stderr.isatty(),
    )


def run_verify(
    settings: TargetSettings,
    url: str,
    key: Secret,
    run: str | None,
    *,
    sample: int | None = None,
    report_dir: Path | None = None,
    clock: Clock | None = None,
) -> tuple[VerifyResult, Path, str]:
    """Read a run back (printing the bill first), write verify.json and the report section. ``clock``:
    migrate passes its interruptible clock, so a signal ends the read-back's waits too.

    Returns the result, the verify.json path and a note naming where it went.
    """

    def show_plan(plan: ReadPlan) -> None:
        for line in plan_lines(plan):
            say(line)

    writable_dir(report_dir or Path("reports"))  # before the read-back spends its requests
    result = verify(
        settings.state_dir,
        url,
        key,
        VerifyOptions(run=run, sample=sample, embedded=settings.embedded),
        clock=clock,
        on_plan=show_plan,
    )
    out_dir = report_dir or Path("reports") / result.run_id
    json_path = write_verify_json(result, out_dir)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    note = str(json_path)
    if append_to_report(out_dir / "report.html", section_html(result, now)):
        note = f"{json_path} (and a section in {out_dir / 'report.html'})"
    return result, json_path, note
