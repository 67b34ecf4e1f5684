"""``bme-migrate migrate``: extract → validate → resolve → transform → load → verify, resumable, with a report.

The command ends with one summary block (``etl.commands.summary``) whatever happened: complete, already
complete (nothing sent), paused (when and how to resume) or dry run.
"""

from __future__ import annotations

import json
import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from etl import paths
from etl.atomic import writable_dir
from etl.clock import StoppableClock, SystemClock
from etl.commands.common import (
    InputChoices,
    api_key_file_option,
    budget_options,
    chosen_export_timeout,
    chosen_patience,
    console_options,
    create_options,
    input_options,
    json_option,
    legacy_from,
    legacy_options,
    patience_options,
    progress_options,
    report_dir_option,
    run_verify,
    sources_argument,
    state_dir_option,
    target,
    to_stderr,
    warn,
)
from etl.commands.notify import Notifier, document
from etl.commands.progress import ProgressDisplay
from etl.commands.summary import Summary, migration_lines, verify_phrase
from etl.commands.target import open_target
from etl.config import TargetSettings
from etl.errors import ConfigError, ConsentUnclear, InputError, Paused, VerificationFailed
from etl.events import NO_EVENTS, VERIFIED, EventLog
from etl.load.decide import ON_CONFLICT, POLICIES
from etl.load.dryrun import dry_run_lines
from etl.load.index import STRATEGIES
from etl.load.ledger import Ledger, file_digest, ledger_errors
from etl.pipeline.inputs import require_sources
from etl.pipeline.migration import Hooks, MigrateOptions, MigrateResult, migrate, refused_before_start
from etl.progress import TickingClock, Tracker
from etl.report.files import rerender
from etl.terminal import DETAIL, FINAL, NORMAL, console, say
from etl.validate.report import status_line
from etl.verify.output import verify_lines
from etl.verify.verifier import VerifyResult

VERIFY_MINIMUM = 2  # the read-back's probe and one search: below that, a capped run skips the verify


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set a flag: the request in flight finishes, the loader checkpoints and pauses (75)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: the user really wants out
            signal.default_int_handler(signum, frame)
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _resume_command(ctx: click.Context) -> str:
    """The same command, rebuilt from what click parsed (the key is never a flag, so it cannot leak)."""
    words = ["bme-migrate", "migrate", *ctx.params["sources"]]
    for param in ctx.command.params:
        # a resumed legacy run must reuse its snapshot, so --legacy-fresh is not repeated
        if not isinstance(param, click.Option) or param.name in (None, "sources", "legacy_fresh"):
            continue
        value = ctx.params.get(param.name)
        flag = param.opts[0]
        if param.is_flag:
            words += [flag] if value else []
        elif param.multiple:
            for v in value or ():
                words += [flag, str(v)]
        elif value is not None and value != param.default:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


@click.command("migrate", short_help="Load contacts into Benchmark: resumable, then verified.")
@sources_argument()
@input_options()
@click.option(
    "--list", "lists", multiple=True, metavar="NAME", help="Add every contact to this list too (repeatable)."
)
@create_options()
@click.option(
    "--on-existing",
    type=click.Choice(POLICIES),
    default="merge",
    show_default=True,
    help="Contacts already in the account: merge (add lists/tags, fill empty fields), overwrite "
    "(our non-empty values win) or skip. Unsubscribes always apply; Inactive is never reactivated.",
)
@click.option(
    "--on-conflict",
    type=click.Choice(ON_CONFLICT),
    default="target",
    show_default=True,
    help="The cut-over delta: a contact this state dir wrote before is merged three ways (only what the "
    "source changed since is written); a field edited in Benchmark since is a conflict, reported, and "
    "kept (target) or overwritten (source).",
)
@click.option(
    "--index-strategy",
    type=click.Choice(STRATEGIES),
    default="auto",
    show_default=True,
    help="How the account is read before writing: auto (the cheapest of paging, batched key search and "
    "the export, the export only when it carries everything and was not found unusable in the last day "
    "(a timeout, a 5xx) or week (a 404, a missing column)), or force paging, search or export (export "
    "still falls back to paging when it is unusable).",
)
@click.option(
    "--export-timeout",
    metavar="DURATION",
    default="5m",
    show_default=True,
    help="How long the one export request may take before the account is read by paging instead (s, m, "
    "h or d), e.g. --export-timeout 20m for a million contacts on a slow account.",
)
@click.option(
    "--import-unconfirmed",
    is_flag=True,
    help="Import pending/no-consent contacts as Inactive instead of skipping them.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read the account (read-only requests) and report the exact create/update/unchanged/skip "
    "split and the request bill; write nothing.",
)
@budget_options()
@click.option(
    "--allow-mostly-rejected",
    is_flag=True,
    help="Load even when no contact would be written or more than half of the rows with an address "
    "were rejected (by default such a run stops before its first write request, exit 2).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Skip the read-back that follows a complete migration (run `bme-migrate verify` later).",
)
@legacy_options()
@progress_options()
@state_dir_option()
@report_dir_option("Where report.json, report.html and rejects.csv go [default: reports/<run id>].")
@click.option(
    "--structure",
    "structure_id",
    metavar="ID",
    default=None,
    help="Target contact structure _id [default: the account's default structure].",
)
@patience_options()
@api_key_file_option()
@json_option(
    "Print report.json on stdout and nothing else (every other line goes to stderr), also when the run "
    "pauses (exit 75) or stops."
)
@console_options()
def command(*, dry_run: bool, notify_url: str | None, notify_command: str | None, **rest: Any) -> None:
    """Migrate an export into Benchmark: resumable, rate-aware, about one request per contact.

    Every row ends with one outcome (created, updated, unchanged, skipped, failed, rejected) in the
    ledger and the report. Into the embedded sandbox (no BME_API_KEY), missing fields, lists and tags
    are created as if --create-fields/--create-lists/--create-tags were given. Interrupted (Ctrl-C,
    --max-requests, monthly quota)? Run the same command again: it resumes the same run and never
    creates a contact twice. A complete migration is then read back (`bme-migrate verify`, priced to
    fit 10% of the hourly requests left) unless --no-verify; a mismatch exits 5.

    Cut-over: run it over a newer export with the same state dir and each contact an earlier run wrote
    gets only what changed since (a three-way merge against what was written; --on-existing applies to
    the others): edits made in Benchmark since are kept and reported as conflicts (--on-conflict),
    unsubscribes are applied, new people created, people gone from the export listed, never deleted.

    SOURCE may be a legacy platform's API instead of files: legacy+https://host/base, with the token
    in LEGACY_API_TOKEN (never a flag). Its pages are snapshotted in the state dir, so a re-run reads
    none again (--legacy-fresh to re-extract); the preset defaults to legacy_api.

    Progress: a live bar in a terminal; elsewhere (nohup, CI) one line every --progress-interval
    seconds. Every run appends its events to <state dir>/events.jsonl (docs/events.md), which
    `bme-migrate status --watch` follows from another terminal. --notify / --notify-command tell
    someone when the run completes, pauses or fails (a dry run notifies nobody).

    \b
    Examples:
      bme-migrate migrate members_export.zip --dry-run
      bme-migrate migrate contacts.csv --preset hubspot --create-fields --create-lists
      bme-migrate migrate a.csv --list "Imported 2026" --max-requests 3000 --reserve 200
      bme-migrate migrate a.csv --max-outage 30m --wait-for-quota --max-wait 3d
      bme-migrate migrate newer_export.csv --on-conflict source   # cut-over delta, same state dir
      LEGACY_API_TOKEN=… bme-migrate migrate legacy+https://legacy.example.com --legacy-status subscribed
      nohup bme-migrate migrate big.csv --progress-interval 300 --notify https://hooks.slack.com/services/T0/B0/X &
    """
    # every option reaches ``_command`` by name (one typed list, not two); the input options as ``inputs``
    notifier = Notifier.from_flags(notify_url, notify_command)
    ended: dict[str, Any] = {}  # the notification, once the run's end is known
    settings: TargetSettings | None = None
    try:
        settings = _command(
            ended, dry_run=dry_run, notify_url=notify_url, notify_command=notify_command, **rest
        )
    except BaseException as exc:
        if notifier and not dry_run and "doc" not in ended:
            run = ended.get("run_id")
            error = str(exc) if not isinstance(exc, click.exceptions.Exit) else f"exit {exc.exit_code}"
            ended["doc"] = document("failed", run_id=run, error=" ".join(error.split())[:500])
        raise
    finally:
        if notifier and "doc" in ended:
            _notify(notifier, ended["doc"], settings or ended.get("settings"))


def _notify(notifier: Notifier, doc: dict[str, Any], settings: TargetSettings | None) -> None:
    """Send the run's end; failures are warnings and ``notify_failed`` events, never a changed exit code."""
    log = EventLog.for_state_dir(settings.state_dir) if settings is not None else None
    try:
        if log is not None and doc.get("run_id"):
            log.bind(doc["run_id"])
        for failure in notifier.send(doc, log if log is not None else NO_EVENTS):
            warn(f"notification failed: {failure}")
    finally:
        if log is not None:
            log.close()


def _command(
    ended: dict[str, Any],
    *,
    sources: tuple[str, ...],
    inputs: InputChoices,
    lists: tuple[str, ...],
    create_fields: bool,
    create_lists: bool,
    create_tags: bool,
    on_existing: str,
    on_conflict: str,
    index_strategy: str,
    export_timeout: str,
    import_unconfirmed: bool,
    dry_run: bool,
    max_requests: int | None,
    reserve: int,
    allow_mostly_rejected: bool,
    no_verify: bool,
    legacy_status: str | None,
    legacy_fresh: bool,
    progress_interval: float,
    notify_url: str | None,
    notify_command: str | None,
    state_dir: Path | None,
    report_dir: Path | None,
    structure_id: str | None,
    max_outage: str,
    wait_for_quota: bool,
    max_wait: str,
    api_key_file: Path | None,
    as_json: bool,
) -> TargetSettings:
    """The command's work (its parameters are ``command``'s, by name); ``ended`` receives the run id, the
    settings and, once known, the notification to send."""
    if any(not name.strip() for name in lists):  # refused before any work, not as an HTTP 400 after setup
        raise ConfigError("--list needs a list name; an empty one was given")
    chosen = inputs.chosen_preset()
    read_opts = inputs.read_options()
    mapping_file, preset = inputs.mapping_file, inputs.preset
    mapping_id = (
        f"file:{file_digest(mapping_file)}" if mapping_file else f"preset:{preset}" if preset else "detected"
    )
    legacy = legacy_from(sources, legacy_status, legacy_fresh)
    settings = target(state_dir, api_key_file)
    ended["settings"] = settings
    resume = _resume_command(click.get_current_context())
    try:  # before the embedded sandbox starts and announces a rehearsal of nothing
        require_sources(sources)
    except InputError as exc:
        if not dry_run:
            refused_before_start(settings.state_dir, sources, resume, exc)
        raise
    # before extraction and the first request, not after the load
    writable_dir(paths.reports_root(report_dir))
    if not dry_run:  # a ledger that is not ours is refused before extraction, not after it
        Ledger.open(settings.state_dir, readonly=True).close()
    if settings.embedded:  # a rehearsal in the local sandbox: create whatever the export needs
        create_fields = create_lists = create_tags = True
    opts = MigrateOptions(
        sources=sources,
        preset=chosen,
        mapping_id=mapping_id,
        lists=lists,
        create_fields=create_fields,
        create_lists=create_lists,
        create_tags=create_tags,
        on_existing=on_existing,
        on_conflict=on_conflict,
        index_strategy=index_strategy,
        export_timeout=chosen_export_timeout(export_timeout),
        import_unconfirmed=import_unconfirmed,
        dry_run=dry_run,
        max_requests=max_requests,
        reserve=reserve,
        structure_id=structure_id,
        report_dir=report_dir,
        resume_command=resume,
        # the embedded sandbox's port changes every run; its database does not
        target_id=f"embedded:{settings.sandbox_db.resolve()}" if settings.embedded else None,
        legacy=legacy,
        consent=inputs.consent(),
        allow_mostly_rejected=allow_mostly_rejected,
        read=read_opts,
        patience=chosen_patience(max_outage, wait_for_quota, max_wait),
    )
    display = ProgressDisplay()
    started: dict[str, tuple[str, int]] = {}
    checked: VerifyResult | None = None
    verify_skipped = "--no-verify"

    def on_run(run_id: str, before: int) -> None:
        started.update(run=(run_id, before))
        ended["run_id"] = run_id

    try:
        with (
            _stop_on_signals() as stop,
            open_target(settings, to_stderr) as (url, key),
            EventLog.for_state_dir(settings.state_dir) as events,
        ):
            # every wait (pacing, retry backoff, legacy paging backoff) ends when a signal sets ``stop``
            base = StoppableClock(SystemClock(), stop)
            events.clock = base
            tracker = Tracker(
                base,
                interval=progress_interval,
                on_beat=display.on_beat,
                on_update=display.on_update,
                on_phase=display.on_phase,
            )
            # … and heartbeats keep coming through long waits, the read-back's included
            clock = TickingClock(base, tracker)
            hooks = Hooks(
                on_wait=lambda seconds, reason: display.wait(seconds, reason, clock.now()),
                should_stop=stop.is_set,
                on_run=on_run,
                tracker=tracker,
                on_note=lambda note: to_stderr(f"note: {note}"),
            )
            try:
                result = migrate(opts, url, key, settings.state_dir, hooks=hooks, clock=clock, events=events)
                for warning in result.warnings:
                    warn(warning)
                # --max-requests bounds the read-back too: it plans within what the load left of the cap
                left = (
                    None
                    if max_requests is None
                    else max_requests - result.requests_total + result.requests_before
                )
                if (
                    left is not None
                    and left < VERIFY_MINIMUM
                    and result.state == "complete"
                    and not no_verify
                ):
                    no_verify = True
                    verify_skipped = f"--max-requests {max_requests} is spent"
                if result.state == "complete" and not result.already_complete and not no_verify:
                    # its bill and per-run result are detail (--verbose, verify.json): the summary has its line
                    say(f"verifying run {result.run_id} (read-only; --no-verify to skip)", level=DETAIL)
                    checked, _, _ = run_verify(
                        settings,
                        url,
                        key,
                        result.run_id,
                        report_dir=report_dir,
                        clock=clock,
                        tracker=tracker,
                        patience=opts.patience,
                        max_requests=left,
                        plan_level=DETAIL,
                    )
                    events.emit(
                        VERIFIED,
                        clean=checked.clean,
                        checked=checked.checked,
                        mismatches=len(checked.mismatches),
                        requests=sum(checked.requests.values()),
                    )
                    for line in verify_lines(checked):
                        # a mismatch is what needs attention: its lines are shown without --verbose
                        wrong = line.startswith("  ") or line.endswith("MISMATCH")
                        say("  " + line, level=NORMAL if wrong and not checked.clean else DETAIL)
            finally:
                display.close()
    except Paused as exc:
        summary = _paused(exc, started.get("run"), settings, report_dir, resume)
        ended["doc"] = document("paused", summary=summary, run_id=ended.get("run_id"), error=str(exc))
        if as_json and started.get("run"):
            _print_report(paths.report_dir(report_dir, started["run"][0]) / "report.json")
        raise click.exceptions.Exit(exc.exit_code) from None
    except KeyboardInterrupt:  # a second Ctrl-C: out now (130), but still say where the run stands
        summary = _paused(Paused("interrupted twice"), started.get("run"), settings, report_dir, resume)
        ended["doc"] = document(
            "paused", summary=summary, run_id=ended.get("run_id"), error="interrupted twice"
        )
        if as_json and started.get("run"):
            _print_report(paths.report_dir(report_dir, started["run"][0]) / "report.json")
        raise click.exceptions.Exit(130) from None
    if result.plan is not None:
        for line in dry_run_lines(result.plan):
            say(line)
        if result.consent_unclear:  # in validate's words: the same questions, the same counts
            say(status_line(result.report))
            warn(f"a real run would stop before writing: {result.stop_reason}")
            warn(result.consent_unclear.replace("nothing was written", "migrate will stop"))
        elif result.stop_reason:  # a preview: it says what the real run would do, and succeeds
            warn(f"a real run would stop before writing: {result.stop_reason} {_ALLOW}")
    if result.state == "complete" and checked is None and result.files is not None:
        # the page was rendered before the read-back was decided: say why there is none
        why = verify_skipped if no_verify else None
        if result.already_complete:
            why = "the run was already complete; its read-back is not repeated"
        rerender(result.files.html.parent, verify_note=why)
    summary = _summary(result, checked, no_verify, verify_skipped)
    _say_summary(migration_lines(summary))
    if as_json and result.files is not None:
        _print_report(result.files.json)
    if result.state != "dry_run":
        state = "stopped" if result.state == "stopped" else "complete"
        ended["doc"] = document(state, summary=summary)
    if result.state == "stopped" and result.consent_unclear:  # one line per column to settle
        raise ConsentUnclear(result.consent_unclear)
    if result.state == "stopped":
        raise InputError(f"stopped before writing anything: {result.stop_reason} {_ALLOW}")
    if checked is not None and not checked.clean:
        raise VerificationFailed(
            f"{len(checked.mismatches):,} mismatch(es) in run {checked.run_id} after migrating; "
            "see verify.json in the report dir"
        )
    return settings


_ALLOW = "(--allow-mostly-rejected to load anyway)"


def _reports(files: Any) -> str:
    return f"{files.html} (also {files.json.name}, {files.rejects.name})" if files is not None else "none"


def _summary(
    result: MigrateResult, checked: VerifyResult | None, no_verify: bool, skipped: str = "--no-verify"
) -> Summary:
    if checked is not None:
        verified = verify_phrase(checked)
    elif result.state == "dry_run":
        verified = "not run (dry run)"
    elif result.state == "stopped":
        verified = "not run (nothing was written)"
    elif result.already_complete:
        verified = f"not repeated; run `bme-migrate verify {result.run_id}` to check again"
    else:
        verified = (
            f"skipped ({skipped}); run `bme-migrate verify {result.run_id}`" if no_verify else "not run"
        )
    state = "already_complete" if result.already_complete else result.state
    reports = _reports(result.files)
    if result.files is not None and (result.files.json.parent / "verify.json").exists():
        reports = reports[:-1] + ", verify.json)"
    return Summary(
        run_id=result.run_id,
        state=state,
        rows=result.report.get("rows", {}),
        contacts=result.report.get("contacts"),
        requests_now=None if result.state == "dry_run" else result.requests_total - result.requests_before,
        pause_reason=result.stop_reason if result.state == "stopped" else None,
        field_problems=result.report.get("field_problems"),
        requests_total=result.plan.total_requests if result.plan is not None else result.requests_total,
        verify=verified,
        reports=reports,
        verify_requests=sum(checked.requests.values()) if checked is not None else 0,
    )


def _paused(
    exc: Paused,
    started: tuple[str, int] | None,
    settings: TargetSettings,
    report_dir: Path | None,
    resume: str,
) -> Summary | None:
    """The summary block of a paused run, from its ledger and the report it wrote before raising."""
    if started is None:  # paused before the run began (e.g. interrupted while extracting)
        to_stderr(f"paused: {exc}")
        to_stderr(f"to resume, run: {resume}")
        return None
    run_id, before = started
    total = before
    with Ledger.open(settings.state_dir, readonly=True) as ledger, ledger_errors(ledger.path):
        total = sum(ledger.run(run_id).request_counts().values())
    out_dir = paths.report_dir(report_dir, run_id)
    doc: dict[str, Any] = {}
    if (out_dir / "report.json").exists():
        doc = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    summary = Summary(
        run_id=run_id,
        state="paused",
        rows=doc.get("rows", {}),
        contacts=doc.get("contacts"),
        requests_now=total - before,
        requests_total=total,
        verify="not run (the run is not complete)",
        reports=f"{out_dir / 'report.html'} (also report.json, rejects.csv)",
        pause_reason=str(exc),
        resume_after=exc.resume_after,
        resume_command=resume,
    )
    _say_summary(migration_lines(summary), err=True)
    return summary


def _say_summary(lines: list[str], *, err: bool = False) -> None:
    """The summary block; its ``state:`` line and, when paused, how to resume are what --quiet keeps."""
    final = False
    for line in lines:
        final = line.startswith(("state:", "resume:")) or (final and line.startswith(" "))
        say(line, err=err, level=FINAL if final else NORMAL)


def _print_report(path: Path) -> None:
    """--json: the report as written is the one thing on stdout (nothing when the run wrote none)."""
    if path.exists():
        console().document(path.read_text(encoding="utf-8"))
