"""What several commands share: click option bundles and the small steps every command repeats.

Option bundles are decorators, so a command reads as its list of options, and one flag has one spelling
and one meaning everywhere. Help texts that differ by command (where a state dir or report goes) are
parameters with the common wording as default.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import click

from etl import paths
from etl.atomic import writable_dir
from etl.clock import Clock
from etl.config import Secret, TargetSettings, target_from_env
from etl.errors import ConfigError
from etl.extract.legacy_api import legacy_token_from_env
from etl.extract.options import ReadOptions, read_options
from etl.model import Status
from etl.pipeline.inputs import LegacyOptions, has_legacy_source
from etl.presets.consent import parse_status
from etl.presets.preset import ConsentChoices, Preset, load_preset, preset_names
from etl.progress import DEFAULT_INTERVAL, VERIFY, Tracker
from etl.report.files import rerender
from etl.retry import Patience, parse_duration
from etl.terminal import NORMAL, PROBLEM, Console, console, say
from etl.verify.output import read_plan_lines, write_verify_json
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


def _console(ctx: click.Context) -> Console:
    """The invocation's ``Console``: the one ``cli.main`` made, or a new one on the root context (a test
    invoking the group directly)."""
    found = ctx.find_object(Console)
    if found is None:
        found = ctx.find_root().obj = Console()
    return found


def json_option(help_text: str) -> Callable[[F], F]:
    """``--json``: stdout holds one JSON document and nothing else; every human line goes to stderr."""

    def reserve_stdout(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
        if value:
            _console(ctx).json = True
        return value

    return click.option("--json", "as_json", is_flag=True, callback=reserve_stdout, help=help_text)


# The JSON documents the commands print (report.json and verify.json carry their own): name → version of
# its shape, bumped when a key is renamed, dropped or retyped; each has docs/schema/<name>.schema.json.
DOCUMENTS = MappingProxyType({"status": 1, "detect": 1, "presets": 1, "mapping-plan": 1, "undo": 1})


def print_document(name: str, body: Mapping[str, Any]) -> None:
    """``--json``: ``body`` as the one document on stdout, headed by ``schema`` and ``version`` so a script
    can tell which shape it reads."""
    doc = {"schema": f"bme-migrate/{name}", "version": DOCUMENTS[name], **body}
    console().document(json.dumps(doc, indent=2))


def console_options() -> Callable[[F], F]:
    """``--quiet``, ``--verbose`` and ``--log-file``, on every command: they set the invocation's
    ``Console`` (etl.terminal), which every line goes through, so no command decides this itself."""

    def set_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            console = _console(ctx)
            setattr(console, str(param.name), True)
            if console.quiet and console.verbose:
                raise click.UsageError("use either --quiet or --verbose, not both", ctx)

    def set_log(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
        if value is not None:
            try:  # refused now, in one line, not at the first line logged
                value.open("a", encoding="utf-8").close()
            except OSError as exc:
                raise click.BadParameter(
                    f"{value}: {exc.strerror or exc}", ctx, param_hint="--log-file"
                ) from None
            _console(ctx).log_file = value

    return _bundle(
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            expose_value=False,
            callback=set_flag,
            help="Print only errors, warnings and the final line.",
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            expose_value=False,
            callback=set_flag,
            help="Print more detail (e.g. the read-back's request bill and per-run result after a migrate).",
        ),
        click.option(
            "--log-file",
            type=click.Path(dir_okay=True, path_type=Path),
            default=None,
            expose_value=False,
            callback=set_log,
            metavar="PATH",
            help="Also append every line (the --verbose detail included), stamped with UTC time, to PATH.",
        ),
    )


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


def progress_interval_option(
    help_text: str = "When stderr is not a terminal (nohup, CI, a log file): one progress line every SECONDS "
    "(done/total, outcomes, requests left this hour and month, rate, ETA), e.g. --progress-interval 300; "
    "the same heartbeat goes to <state dir>/events.jsonl. A terminal gets a live bar instead.",
) -> Callable[[F], F]:
    return click.option(
        "--progress-interval",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_INTERVAL,
        show_default=True,
        metavar="SECONDS",
        help=help_text,
    )


def progress_options() -> Callable[[F], F]:
    """``--progress-interval`` (heartbeat lines and events), ``--notify URL`` and ``--notify-command CMD``
    (``etl.commands.notify``): how a long run is followed and who hears when it ends."""
    return _bundle(
        progress_interval_option(),
        click.option(
            "--notify",
            "notify_url",
            metavar="URL",
            default=None,
            help="POST a JSON summary (state, counts, resume time, report path; never the key) when the "
            "run completes, pauses or fails; a Slack or Teams incoming webhook takes it as is, e.g. "
            "--notify https://hooks.slack.com/services/T000/B000/XXXX. A failed POST is only logged.",
        ),
        click.option(
            "--notify-command",
            metavar="CMD",
            default=None,
            help="Run CMD (by the shell) with the same JSON on stdin when the run ends, e.g. "
            "--notify-command 'mail -s bme-migrate ops@example.com'. A failing command is only logged.",
        ),
    )


def watch_options() -> Callable[[F], F]:
    """``--watch`` and ``--every``: ``status`` following a running migration from another terminal."""
    return _bundle(
        click.option(
            "--watch",
            is_flag=True,
            help="Follow the running migration: a line every few seconds with done/total, outcomes, rate "
            "and ETA, until it finishes (exit 0), pauses (75) or fails (1); Ctrl-C stops watching (130). "
            "e.g. bme-migrate status --watch",
        ),
        click.option(
            "--every",
            "every",
            type=click.FloatRange(min=0, min_open=True),
            default=5.0,
            show_default=True,
            metavar="SECONDS",
            help="With --watch: seconds between two reads of the ledger and events.jsonl, e.g. --every 30.",
        ),
    )


@dataclass(frozen=True)
class InputChoices:
    """How to read the export, as ``validate`` and ``migrate`` both take it: the preset or mapping file,
    what a person says about consent columns, and the reading overrides. One object, so the two commands
    declare, pass and turn these nine options into the stages' types the same way (``input_options``)."""

    preset: str | None
    mapping_file: Path | None
    status_column: str | None
    status_values: tuple[str, ...]
    ignore_columns: tuple[str, ...]
    encoding: str | None
    delimiter: str | None
    max_archive_size: str | None
    max_archive_ratio: str | None

    def chosen_preset(self) -> Preset | None:
        return chosen_preset(self.preset, self.mapping_file)

    def read_options(self) -> ReadOptions:
        return chosen_read(self.encoding, self.delimiter, self.max_archive_size, self.max_archive_ratio)

    def consent(self) -> ConsentChoices:
        return chosen_consent(self.status_column, self.status_values, self.ignore_columns)


INPUT_NAMES = tuple(f.name for f in fields(InputChoices))


def input_options(preset_help: str | None = None) -> Callable[[F], F]:
    """``preset_options``, ``consent_options`` and ``read_flags``, handed to the command as one
    ``inputs: InputChoices`` keyword instead of nine."""

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def collapsed(*args: Any, **kwargs: Any) -> Any:
            inputs = InputChoices(**{name: kwargs.pop(name) for name in INPUT_NAMES})
            return f(*args, inputs=inputs, **kwargs)

        presets = preset_options(preset_help) if preset_help else preset_options()
        return presets(consent_options()(read_flags()(collapsed)))  # type: ignore[return-value]

    return wrap


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


def patience_options() -> Callable[[F], F]:
    """``--max-outage``, ``--wait-for-quota``, ``--max-wait``: how long a run waits before it pauses (exit
    75); turned into a ``Patience`` by ``chosen_patience``."""
    return _bundle(
        click.option(
            "--max-outage",
            metavar="DURATION",
            default="6h",
            show_default=True,
            help="Wait out connection failures, timeouts and runs of 5xx from the target (and a legacy "
            "source) for up to this long, with backoff capped at 5 minutes; one line when the outage "
            "starts, one every 10 minutes, one when it ends. Only then pause (exit 75). 0 pauses after "
            "a few retries. E.g. --max-outage 30m.",
        ),
        click.option(
            "--wait-for-quota",
            is_flag=True,
            help="When the monthly API quota is spent, sleep until it resets (printing when the run "
            "resumes) instead of pausing with exit 75, if the reset is within --max-wait. E.g. "
            "--wait-for-quota --max-wait 3d.",
        ),
        click.option(
            "--max-wait",
            metavar="DURATION",
            default="7d",
            show_default=True,
            help="The longest quota wait --wait-for-quota accepts (s, m, h or d).",
        ),
    )


def chosen_patience(max_outage: str, wait_for_quota: bool, max_wait: str) -> Patience:
    """The waiting flags as a ``Patience`` whose lines go to stderr; a malformed duration is exit 2."""
    return Patience(
        parse_duration(max_outage, "--max-outage"),
        wait_for_quota,
        parse_duration(max_wait, "--max-wait"),
        on_event=to_stderr,
    )


def chosen_export_timeout(text: str) -> float:
    """``--export-timeout`` in seconds; exit 2 for a malformed or zero one (a zero wait would be no export
    at all, which ``--index-strategy paging`` says)."""
    return parse_duration(text, "--export-timeout", zero=False)


def budget_options() -> Callable[[F], F]:
    """``--max-requests`` and ``--reserve``: how much of the account's request budget a command may spend."""
    return _bundle(
        click.option(
            "--max-requests",
            type=click.IntRange(min=1),
            default=None,
            help="Stop cleanly (exit 75) after this many API requests; run again to continue.",
        ),
        click.option(
            "--reserve",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Requests per hourly window left unused for other integrations on the account.",
        ),
    )


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
    return paths.state_dir(state_dir, os.environ)


def to_stderr(message: str) -> None:
    say(message, err=True)


def warn(message: str) -> None:
    """``warning: message`` on stderr, shown even with --quiet."""
    say(f"warning: {message}", err=True, level=PROBLEM)


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
        disable=not sys.stderr.isatty() or console().quiet,
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
    patience: Patience | None = None,
    tracker: Tracker | None = None,
    max_requests: int | None = None,
    plan_level: int = NORMAL,
) -> tuple[VerifyResult, Path, str]:
    """Read a run back (printing the bill first), write verify.json and the report section. ``clock``:
    migrate passes its interruptible clock, so a signal ends the read-back's waits too; ``tracker`` shows
    the read-back's progress (requests of the bill sent, rate, ETA); ``plan_level``: how much the bill
    matters here (migrate's summary has the result in one line, so there the bill is --verbose detail).

    Returns the result, the verify.json path and a note naming where it went.
    """

    def show_plan(plan: ReadPlan) -> None:
        for line in read_plan_lines(plan):
            say(line, level=plan_level)
        if tracker is not None and plan.reads + plan.list_counts:  # the probe alone read everything: no phase
            tracker.begin(VERIFY, plan.reads + plan.list_counts)

    writable_dir(paths.reports_root(report_dir))  # before the read-back spends its requests
    result = verify(
        settings.state_dir,
        url,
        key,
        VerifyOptions(
            run=run,
            sample=sample,
            embedded=settings.embedded,
            patience=patience or Patience(),
            max_requests=max_requests,
        ),
        clock=clock,
        on_plan=show_plan,
        on_read=tracker.update if tracker is not None else None,
    )
    if tracker is not None:
        tracker.end()
    out_dir = paths.report_dir(report_dir, result.run_id)
    json_path = write_verify_json(result, out_dir)
    note = str(json_path)
    if rerender(out_dir):  # the run's page, rendered again with the read-back in it
        note = f"{json_path} (and a section in {out_dir / 'report.html'})"
    return result, json_path, note
