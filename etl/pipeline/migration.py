"""The whole migration as one library call: validate → resolve → transform → load → report.

The CLI parses flags, opens the target and prints; everything between is here, so a script can call it.
A resumed run never re-resolves the mapping: the resolved ids are saved in the ledger with the run, and the
run id already pins the sources' content, the mapping and the target.

A real run (not a dry run) appends its events to ``<state dir>/events.jsonl`` (``etl.events``; the kinds
and fields are in docs/events.md): ``start``, ``load_start``, ``progress`` heartbeats from the tracker,
``quota_wait``, and exactly one of ``finish``, ``pause`` or ``fail`` at the end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from etl.atomic import writable_dir
from etl.benchmark.client import BenchmarkClient
from etl.benchmark.pacing import Pacer
from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.errors import AuthError, ConfigError, Paused
from etl.events import (
    FAIL,
    FINISH,
    INDEX_NOTE,
    LOAD_START,
    PAUSE,
    PROGRESS,
    QUOTA_WAIT,
    START,
    TERMINAL,
    EventLog,
    events_path,
)
from etl.extract.legacy_api import OnPage
from etl.extract.options import ReadOptions
from etl.load.accounts import AccountNotes
from etl.load.dryrun import DryRunPlan, SimulatedWrites, dry_run
from etl.load.guard import stop_reason
from etl.load.index import EXPORT_TIMEOUT
from etl.load.ledger import Ledger, RunLedger, file_digest, fingerprint, ledger_errors
from etl.load.loader import LoadSummary, Progress
from etl.load.run import LoadSettings, load
from etl.mailbox import ascii_form
from etl.mapping.plan import report_section
from etl.mapping.resolve import ResolveOptions, resolve_mapping, resolved_from_json, resolved_to_json
from etl.mapping.transform import TransformResult, distinct_names, plan_contacts
from etl.model import EMAIL_RAW, KEY, REASON, REASON_CODE, ROW_ID, Outcome, PlannedContact
from etl.paths import report_dir
from etl.pipeline.inputs import LegacyOptions, SourceRead, has_legacy_source, raw_rows, read_inputs
from etl.pipeline.migration_report import load_section, run_invocations, write_migration_report
from etl.pipeline.resume import LaterVariants, SourcesRead, writes_at_once
from etl.presets.preset import ConsentChoices, Preset
from etl.progress import EXTRACT, LOAD, TickingClock, Tracker
from etl.reasons import RejectReason
from etl.retry import Patience
from etl.validate.core import ValidationResult
from etl.validate.report import ReportFiles
from etl.validate.rows import FIELD

SETUP_REQUESTS = 8  # what resolution may send: reads, one structure PUT, a list POST or two


@dataclass(frozen=True)
class MigrateOptions:
    sources: tuple[str, ...]
    preset: Preset | None = None
    mapping_id: str = "detected"  # preset name or mapping file digest: part of the run id
    lists: tuple[str, ...] = ()
    create_fields: bool = False
    create_lists: bool = False
    create_tags: bool = False
    on_existing: str = "merge"
    on_conflict: str = "target"  # the cut-over delta: who wins a field edited in Benchmark since we wrote it
    index_strategy: str = "auto"  # how the account is read before writing (etl.load.index.STRATEGIES)
    export_timeout: float = EXPORT_TIMEOUT  # --export-timeout: seconds the export read may take
    import_unconfirmed: bool = False
    dry_run: bool = False
    max_requests: int | None = None
    reserve: int = 0
    structure_id: str | None = None
    report_dir: Path | None = None
    resume_command: str | None = None
    target_id: str | None = None  # identity of the target for the run id (default: the base URL)
    legacy: LegacyOptions = field(default_factory=LegacyOptions)  # for a legacy+https:// source
    consent: ConsentChoices = field(default_factory=ConsentChoices)  # --status-column, --ignore-column …
    allow_mostly_rejected: bool = False  # proceed although ``guard.stop_reason`` says stop
    read: ReadOptions = field(default_factory=ReadOptions)  # --encoding / --delimiter: part of the run id
    patience: Patience = field(default_factory=Patience)  # --max-outage, --wait-for-quota, --max-wait


@dataclass
class MigrateResult:
    """``requests_before``: what the run had spent before this call; ``already_complete``: the run had
    finished earlier, so this call sent nothing and only rewrote the report."""

    run_id: str
    state: str  # complete | paused | dry_run | stopped (``stop_reason``: nothing was written)
    files: ReportFiles | None = None
    report: dict[str, Any] = field(default_factory=dict)
    summary: LoadSummary | None = None
    plan: DryRunPlan | None = None
    validation: ValidationResult | None = None
    requests_before: int = 0
    requests_total: int = 0
    already_complete: bool = False
    warnings: tuple[str, ...] = ()
    stop_reason: str | None = None  # stopped, or (dry run) what would stop the real run
    # the stop (or would-stop) is unclear consent: ``ConsentUnclear``'s text, one line per column to settle
    consent_unclear: str | None = None


@dataclass
class Hooks:
    """What the CLI shows while it runs; every hook is optional."""

    on_rows: Callable[[int], Any] | None = None  # rows read by extract
    on_plan: Callable[[int], None] | None = None  # contacts planned (the progress bar's total)
    on_progress: Callable[[Progress], None] | None = None
    on_wait: Callable[[float, str], None] | None = None
    on_start: Callable[[Any, Pacer], None] | None = None
    should_stop: Callable[[], bool] | None = None
    on_page: OnPage | None = None  # a legacy API page was read: (offset, records, total)
    on_run: Callable[[str, int], None] | None = None  # (run id, requests it had spent before this call)
    # progress with rate/ETA; its heartbeats also go to events.jsonl (default: one beat a minute)
    tracker: Tracker | None = None
    on_note: Callable[[str], None] | None = None  # said once: why the account was not read by export


def run_fingerprint(opts: MigrateOptions, base_url: str, identity: Sequence[str] | None = None) -> str:
    """Sources' content, the mapping and its flags, and the target: the same command → the same run.

    ``identity`` is ``SourceRead.identity`` (a legacy source's URL, filter and snapshot digest); without it
    the sources are taken as files and digested here. ``--encoding`` and ``--delimiter`` count only when
    given (another encoding reads other names from the same bytes: other contacts, another run); without
    them the id is what it always was, since detection depends on the content already digested.
    """
    sources = (
        list(identity)
        if identity is not None
        else [file_digest(s) if Path(s).is_file() else s for s in opts.sources]
    )
    flags = (
        f"lists={sorted(opts.lists)};unconfirmed={opts.import_unconfirmed};on_existing={opts.on_existing};"
        f"create={opts.create_fields},{opts.create_lists},{opts.create_tags}"
    )
    if opts.on_conflict != "target":  # only when given: the default keeps the ids runs always had
        flags += f";on_conflict={opts.on_conflict}"
    if opts.consent:  # statuses read differently: another run
        c = opts.consent
        values = sorted((k, v.value) for k, v in c.status_values.items())
        flags += (
            f";status_column={c.status_column};status_values={values};not_consent={sorted(c.not_consent)}"
        )
    read = opts.read.identity()
    return fingerprint(
        *sources,
        opts.mapping_id,
        flags,
        opts.target_id or base_url,
        opts.structure_id or "default",
        *([read] if read else []),
    )


def _stored_run(opts: MigrateOptions, base_url: str, state_dir: Path) -> str | None:
    """The id of this command's run when the ledger holds all a resume needs to write at once (files only:
    their digests are the run id; a legacy source's identity needs the API read)."""
    if has_legacy_source(opts.sources) or not all(Path(s).is_file() for s in opts.sources):
        return None
    run_id = run_fingerprint(opts, base_url)
    return run_id if writes_at_once(state_dir, run_id) else None


def _raw_variants(result: ValidationResult) -> dict[str, list[str]]:
    """key → the address as the export spelled it and, for a non-ASCII domain, its punycode spelling, where
    they differ from the key (for the account's key searches, which compare strings)."""
    canon = result.canonical
    if EMAIL_RAW not in canon.columns:
        return {}
    out: dict[str, list[str]] = {}
    # Only rows where either form can differ from the key go through Python (a per-row loop over a
    # million rows cost seconds): the address spelt otherwise than its key, or a key that is not ASCII
    # (ascii_form is None for an ASCII key). strip() and strip_chars strip the same characters here.
    k, spelt = pl.col(KEY), pl.col(EMAIL_RAW)
    python_space = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
    maybe = canon.select(KEY, EMAIL_RAW).filter(
        (spelt.fill_null("").str.strip_chars(python_space) != k) | (k.str.len_bytes() != k.str.len_chars())
    )
    for key, raw in maybe.iter_rows():
        spelled = (raw or "").strip()
        forms = [f for f in (spelled, ascii_form(key)) if f and f != key]
        if forms:
            out[key] = list(dict.fromkeys(forms))
    return out


def _upstream_outcomes(result: ValidationResult, planned: TransformResult) -> list[tuple[int, Any, str, Any]]:
    """Rows that never reach the loader: validate's rejects and mapping's rejects and skips."""
    rows: list[tuple[int, Any, str, Any]] = []
    rejected = result.rejections
    rows += [
        (int(r), k, Outcome.REJECTED.value, why)
        for r, k, why in rejected.select(ROW_ID, KEY, REASON).iter_rows()
    ]
    rows += [
        (int(r), k, Outcome.REJECTED.value, why)
        for r, k, why in planned.rejected.select(ROW_ID, KEY, REASON).iter_rows()
    ]
    rows += [
        (int(r), k, Outcome.SKIPPED.value, why)
        for r, k, why in planned.skipped.select(ROW_ID, KEY, REASON).iter_rows()
    ]
    return rows


def migrate(
    opts: MigrateOptions,
    base_url: str,
    api_key: Secret,
    state_dir: Path,
    *,
    hooks: Hooks | None = None,
    clock: Clock | None = None,
    events: EventLog | None = None,
) -> MigrateResult:
    """Run (or resume) the migration; raises ``Paused`` (exit 75) when it stops early.

    ``events``: the log to append to (the CLI passes its own, to add its notification events); by default
    ``<state_dir>/events.jsonl`` is opened here. A dry run writes no events: it is not a run.
    """
    hooks = hooks or Hooks()
    clock = clock or SystemClock()
    tracker = hooks.tracker or Tracker(clock)
    if opts.dry_run:
        return _migrate(opts, base_url, api_key, state_dir, hooks, clock, tracker, _NoLog())
    log = events or EventLog.for_state_dir(state_dir, clock)
    tracker.listen(lambda snap: log.emit(PROGRESS, **snap.fields()))
    # outages of the target (and of a legacy API source) go to events.jsonl as well as to the console
    opts = replace(
        opts, patience=replace(opts.patience, on_outage=lambda kind, fields: log.emit(kind, **fields))
    )
    log.emit(START, sources=list(opts.sources), resume_command=opts.resume_command)
    try:
        # heartbeats keep coming while a wait (pacing window, quota, backoff) sleeps
        ticking = TickingClock(clock, tracker)
        return _migrate(opts, base_url, api_key, state_dir, hooks, ticking, tracker, log)
    except (Paused, KeyboardInterrupt) as exc:
        tracker.drop()
        if log.last not in TERMINAL:  # paused before the run began (e.g. interrupted while extracting)
            reason = str(exc) if isinstance(exc, Paused) else "interrupted"
            log.emit(PAUSE, reason=reason, resume_after=getattr(exc, "resume_after", None))
        raise
    except BaseException as exc:
        tracker.drop()
        if log.last not in TERMINAL:
            log.emit(FAIL, error=_one_line(exc), error_type=type(exc).__name__)
        raise
    finally:
        if events is None:
            log.close()


def refused_before_start(
    state_dir: Path, sources: Sequence[str], resume_command: str, exc: Exception
) -> None:
    """A run refused before its target was opened (a source path that does not exist) still tells whoever
    follows ``events.jsonl`` (``status --watch``, a monitor): it started and failed, and why."""
    with EventLog.for_state_dir(state_dir) as log:
        log.emit(START, sources=list(sources), resume_command=resume_command)
        log.emit(FAIL, error=_one_line(exc), error_type=type(exc).__name__)


class _NoLog:
    """The dry run's event log: nothing is written."""

    run_id: str | None = None
    last: str | None = None

    def bind(self, run_id: str) -> None:
        self.run_id = run_id

    def emit(self, kind: str, /, **fields: Any) -> None:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


def _counts(run: RunLedger) -> dict[str, Any]:
    """The counts every run event carries: contacts done/total and by outcome, rows by outcome, requests."""
    contacts, rows = run.tallies()
    pending = contacts.pop(Outcome.PENDING.value, 0)
    done = sum(contacts.values())
    return {
        "done": done,
        "total": done + pending,
        "counts": dict(sorted(contacts.items())),
        "rows": dict(sorted(rows.items())),
        "requests": sum(run.request_counts().values()),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _migrate(
    opts: MigrateOptions,
    base_url: str,
    api_key: Secret,
    state_dir: Path,
    hooks: Hooks,
    clock: Clock,
    tracker: Tracker,
    log: EventLog | _NoLog,
) -> MigrateResult:
    on_page = hooks.on_page

    def page_read(offset: int, records: int, total: int | None) -> None:
        if tracker.phase is None or tracker.phase.name != EXTRACT:
            tracker.begin(EXTRACT, total, done=offset + records)
        else:
            tracker.set_total(total)
            tracker.update(offset + records)
        if on_page is not None:
            on_page(offset, records, total)

    def read_sources(progress: Callable[[int], Any] | None) -> SourceRead:
        return read_inputs(
            opts.sources,
            preset=opts.preset,
            state_dir=state_dir,
            legacy=replace(opts.legacy, patience=opts.patience),  # --max-outage holds for the legacy API too
            progress=progress,
            on_page=page_read,
            clock=clock,
            consent=opts.consent,
            options=opts.read,
        )

    stored = None if opts.dry_run else _stored_run(opts, base_url, state_dir)
    if stored is not None:  # a resume writes at once; its sources are read meanwhile, for the report
        run_id, sources = stored, SourcesRead.later(lambda: read_sources(None))
    else:
        read_now = read_sources(hooks.on_rows)
        tracker.end()  # the extraction's last line, if it had any
        run_id, sources = run_fingerprint(opts, base_url, read_now.identity), SourcesRead.now(read_now)
    now = datetime.fromtimestamp(clock.now(), UTC).isoformat(timespec="seconds")
    out_dir = report_dir(opts.report_dir, run_id)
    writable_dir(out_dir)  # before the first request: a run must not find out after loading every contact
    resolve_opts = ResolveOptions(
        structure_id=opts.structure_id,
        create_fields=opts.create_fields,
        create_lists=opts.create_lists,
        create_tags=opts.create_tags,
        extra_lists=opts.lists,
    )
    # a stored run began: only a run that has not begun stops. Unclear consent fails closed, before any
    # request and whatever --allow-mostly-rejected says; then the export's own guard (etl.load.guard)
    consent = None if stored is not None else sources.get().validation.consent
    unclear = consent.stop_line() if consent is not None and consent.unclear else None
    stop = (
        unclear
        if unclear is not None or opts.allow_mostly_rejected or stored is not None
        else stop_reason(sources.get().validation, import_unconfirmed=opts.import_unconfirmed)
    )
    questions = consent.stop_message() if consent is not None and unclear is not None else None
    if opts.dry_run:
        read = sources.get()
        result = read.validation
        simulated = SimulatedWrites(httpx.HTTPTransport())
        # one pacer for the resolution and the index reads: --max-requests bounds them together; one
        # counter for every request the real run would send, the simulated writes included
        pacer = Pacer(clock, reserve=opts.reserve, max_requests=opts.max_requests, on_wait=hooks.on_wait)
        sent: Counter[str] = Counter()

        def count(endpoint: str) -> None:
            sent[endpoint] += 1

        with BenchmarkClient(
            base_url,
            api_key,
            transport=simulated,
            clock=clock,
            pacer=pacer,
            on_request=count,
            patience=opts.patience,
        ) as http:
            (preview, preview_structure), _, mapping_doc = _plan(result, resolve_opts, opts, http, saved=None)
        upstream = Counter(outcome for _, _, outcome, _ in _upstream_outcomes(result, preview))
        bases, unread = _dry_run_bases(state_dir, opts.target_id or base_url, preview_structure)
        with BenchmarkClient(
            base_url, api_key, clock=clock, pacer=pacer, on_request=count, patience=opts.patience
        ) as client:
            plan = dry_run(
                client,
                preview_structure,
                preview.contacts,
                policy=opts.on_existing,
                reserve=opts.reserve,
                would_create=simulated.created,
                bases=bases,
                on_conflict=opts.on_conflict,
                variants=_raw_variants(result),
                sent=sent,
                upstream=upstream,
                index_strategy=opts.index_strategy,
                export_timeout=opts.export_timeout,
                notes=AccountNotes(state_dir, readonly=True),
                target=opts.target_id or base_url,
            )
        later, later_fields = _later_rejects(opts.sources, read, preview, [])
        files, doc = write_migration_report(
            result,
            out_dir,
            generated_at=now,
            run_id=run_id,
            state="dry_run",
            dry_run=plan.to_dict(),
            mapping=mapping_doc,
            later_rejects=later,
            later_field_problems=later_fields,
            extra={"would_stop": stop} if stop else None,
        )
        return MigrateResult(
            run_id,
            "dry_run",
            files,
            doc,
            plan=plan,
            validation=result,
            warnings=(*read.warnings, *unread),
            stop_reason=stop,
            consent_unclear=questions,
        )

    with Ledger.open(state_dir) as ledger, ledger_errors(ledger.path):
        run_ledger = ledger.run(run_id)
        plan_of_run: list[TransformResult] = []  # set once the run's plan is known

        def report(state: str, paused_by: Paused | None = None) -> tuple[ReportFiles, dict[str, Any]]:
            read = sources.get()
            result = read.validation
            section = load_section(run_ledger)
            if (
                section["state"] is None and paused_by is not None
            ):  # paused in the setup, before the run began
                section.update(
                    state=state,
                    pause_reason=str(paused_by),
                    resume_after=paused_by.resume_after,
                    resume_command=opts.resume_command,
                )
            saved_mapping = run_ledger.get_meta("mapping_report")
            if not plan_of_run and (saved := run_ledger.get_meta("resolved_mapping")) is not None:
                plan_of_run.append(_plan(result, resolve_opts, opts, None, saved=saved)[0][0])
            later, later_fields = _later_rejects(
                opts.sources, read, plan_of_run[0] if plan_of_run else None, run_ledger.failed_rows()
            )
            try:
                return write_migration_report(
                    result,
                    out_dir,
                    generated_at=now,
                    run_id=run_id,
                    state=state,
                    section=section,
                    mapping=json.loads(saved_mapping) if saved_mapping else report_section(result),
                    later_rejects=later,
                    later_field_problems=later_fields,
                    extra={"stop_reason": stop} if state == "stopped" else None,
                    invocations=run_invocations(
                        events_path(state_dir), run_id, now=_iso(clock.now()), state=state
                    ),
                )
            except ConfigError as exc:  # e.g. a full disk: the ledger holds the run, only the report is owed
                raise ConfigError(
                    f"{exc}; the run's ledger is intact: run the same command again to write the report"
                ) from None

        def paused(exc: Paused) -> None:
            files, _ = report("paused", exc)
            log.emit(
                PAUSE,
                reason=str(exc),
                resume_after=exc.resume_after,
                resume_command=opts.resume_command,
                report=str(files.html),
                **_counts(run_ledger),
            )

        def complete(summary: LoadSummary | None) -> MigrateResult:
            files, doc = report("complete")
            total = sum(run_ledger.request_counts().values())
            return MigrateResult(
                run_id,
                "complete",
                files,
                doc,
                summary=summary,
                validation=sources.get().validation,
                requests_before=before,
                requests_total=total,
                already_complete=summary is None,
                warnings=sources.get().warnings,
            )

        before = sum(run_ledger.request_counts().values())
        info = run_ledger.info()
        log.bind(run_id)
        if hooks.on_run is not None:
            hooks.on_run(run_id, before)
        if info is not None and info.state == "complete":  # nothing left to send: only re-report
            done = complete(None)
            log.emit(FINISH, state="complete", already_complete=True, **_finish_fields(run_ledger, done))
            return done
        if info is None and stop is not None:  # before any write, resolution's included: nothing starts
            files, doc = report("stopped")
            log.emit(FINISH, state="stopped", reason=stop, report=str(files.html), **_counts(run_ledger))
            read = sources.get()
            return MigrateResult(
                run_id,
                "stopped",
                files,
                doc,
                validation=read.validation,
                warnings=read.warnings,
                stop_reason=stop,
                consent_unclear=questions,
            )

        def waited(seconds: float, reason: str) -> None:
            if reason != "pacing":  # the steady ~1 s pacing is the plan, not news; a window or a 429 is
                log.emit(QUOTA_WAIT, seconds=round(seconds, 1), reason=reason)
            if hooks.on_wait is not None:
                hooks.on_wait(seconds, reason)

        # resolution's requests are paced, retried and counted (before they are sent) like the load's, and
        # --max-requests bounds them with the load's: the load gets what resolution left of it
        setup_pacer = Pacer(clock, reserve=opts.reserve, max_requests=opts.max_requests, on_wait=waited)
        setup_pacer.expect(SETUP_REQUESTS)  # a handful: sent at once unless the window is nearly spent
        saved = run_ledger.get_meta("resolved_mapping")
        plans: Sequence[PlannedContact] | None = None  # None: the stored run's plan, in the ledger
        variants: Mapping[str, Sequence[str]]
        if stored is not None and saved is not None:
            structure_id = resolved_from_json(saved).structure_id
            variants = LaterVariants(lambda: _raw_variants(sources.get().validation))
        else:
            result = sources.get().validation
            try:
                with BenchmarkClient(
                    base_url,
                    api_key,
                    clock=clock,
                    pacer=setup_pacer,
                    on_request=run_ledger.count_request,
                    patience=opts.patience,
                ) as http:
                    (planned, structure_id), fresh, mapping_doc = _plan(
                        result, resolve_opts, opts, http, saved=saved
                    )
            except (
                Paused
            ) as exc:  # e.g. --max-requests spent by the setup: the report says so, as for the load
                paused(exc)
                raise
            setup_pacer.check_reserve()  # an impossible --reserve stops here, before the run's first write
            plan_of_run.append(planned)
            plans, variants = planned.contacts, _raw_variants(result)
            if fresh is not None:
                run_ledger.start(
                    base_url=base_url,
                    structure_id=structure_id,
                    label=" ".join(opts.sources)[:200],
                    resume_command=opts.resume_command,
                )
                run_ledger.set_meta("resolved_mapping", fresh)
                run_ledger.set_meta("mapping_report", json.dumps(mapping_doc))
            if run_ledger.get_meta("upstream_recorded") is None:  # the plan itself: stored by the load
                run_ledger.record_rows(_upstream_outcomes(result, planned))
                run_ledger.set_meta("upstream_recorded", "1")
        setup_pacer.check_reserve()  # (again for a stored run: nothing above sent a request)
        counts = _counts(run_ledger)
        if plans is not None:  # the load stores the plan as it goes: what is not stored yet is pending
            counts["total"] = len(plans)
        if hooks.on_plan is not None:
            hooks.on_plan(counts["total"])
        log.emit(LOAD_START, resumed=info is not None, requests_before=before, **counts)
        tracker.begin(LOAD, counts["total"], done=counts["done"], counts=counts["counts"])

        def on_start(loader: Any, pacer: Pacer) -> None:
            tracker.attach(pacer)
            if hooks.on_start is not None:
                hooks.on_start(loader, pacer)

        def on_progress(progress: Progress) -> None:
            sources.start()  # a stored run's resume: its first contact is settled, now read the sources
            tracker.update(progress.done, progress.counts)
            if hooks.on_progress is not None:
                hooks.on_progress(progress)

        settings = LoadSettings(
            base_url,
            api_key,
            state_dir,
            structure_id,
            run_id,
            on_existing=opts.on_existing,
            on_conflict=opts.on_conflict,
            reserve=opts.reserve,
            max_requests=opts.max_requests,
            requests_sent=setup_pacer.sent,
            patience=opts.patience,
            label=" ".join(opts.sources)[:200],
            resume_command=opts.resume_command,
            target_id=opts.target_id,
            index_strategy=opts.index_strategy,
            export_timeout=opts.export_timeout,
        )

        def on_note(note: str) -> None:
            log.emit(INDEX_NOTE, note=note)
            if hooks.on_note is not None:
                hooks.on_note(note)

        try:
            summary = load(
                plans,
                settings,
                variants=variants,
                clock=clock,
                on_wait=waited,
                on_progress=on_progress,
                should_stop=hooks.should_stop,
                on_start=on_start,
                ledger=ledger,
                on_note=on_note,
            )
        except Paused as exc:
            tracker.drop()
            paused(exc)
            raise
        except AuthError as exc:  # the run is failed in the ledger: say so with its counts
            tracker.drop()
            log.emit(FAIL, error=_one_line(exc), error_type=type(exc).__name__, **_counts(run_ledger))
            raise
        tracker.end()
        done = complete(summary)
        log.emit(FINISH, state="complete", already_complete=False, **_finish_fields(run_ledger, done))
        return done


def _finish_fields(run: RunLedger, result: MigrateResult) -> dict[str, Any]:
    return {
        **_counts(run),
        "requests_this_time": result.requests_total - result.requests_before,
        "report": str(result.files.html) if result.files is not None else None,
    }


def _dry_run_bases(
    state_dir: Path, target: str, structure_id: str
) -> tuple[dict[str, tuple[PlannedContact, int | None]], tuple[str, ...]]:
    """What earlier runs of the state dir wrote to this target (the delta's bases), read-only; a ledger
    that cannot be read leaves the dry run pricing by ``--on-existing`` alone, with a warning."""
    try:
        with Ledger.open(state_dir, readonly=True) as ledger, ledger_errors(ledger.path):
            return ledger.bases(ledger.written(target, structure_id)), ()
    except ConfigError as exc:
        return {}, (f"{exc}; the dry run prices every existing contact by --on-existing",)


def _plan(
    result: ValidationResult,
    resolve_opts: ResolveOptions,
    opts: MigrateOptions,
    http: BenchmarkClient | None,
    saved: str | None,
) -> tuple[tuple[TransformResult, str], str | None, dict[str, Any] | None]:
    """Resolve (or reuse the run's saved resolution: then ``http`` is not used) and transform.

    Returns the plan, the fresh resolution JSON to save (None when reused) and, for a fresh resolution, the
    report's mapping section with field/list/tag ids (saved too, so a resumed run reports the same).
    """
    fresh: str | None = None
    section: dict[str, Any] | None = None
    if saved is not None:
        mapping = resolved_from_json(saved)
    else:
        if http is None:
            raise ValueError("a mapping to resolve needs an HTTP client")
        lists, tags = distinct_names(result.canonical)
        resolution = resolve_mapping(
            http, result.fields, list_names=lists, tag_labels=tags, options=resolve_opts
        )
        mapping = resolution.mapping
        fresh = resolved_to_json(mapping)
        section = report_section(result, resolution)
    planned = plan_contacts(
        result.canonical,
        result.fields,
        mapping,
        import_unconfirmed=opts.import_unconfirmed,
        duplicates=result.duplicates,
    )
    return (planned, mapping.structure_id), fresh, section


def _later_rejects(
    sources: Sequence[str],
    read: SourceRead,
    planned: TransformResult | None,
    failed: Sequence[tuple[int, str | None]],
) -> tuple[pl.DataFrame | None, tuple[pl.DataFrame, pl.DataFrame] | None]:
    """Rows rejected after validate — by mapping (an unknown status) or by the target (the load failed
    their contact) — with their cells as read, for rejects.csv; and mapping's field problems (values the
    account's field type cannot take, left out) with their rows' cells. Reading the cells costs one more
    pass over the files, and only when there is such a row."""
    reasons = (
        [] if planned is None else list(planned.rejected.select(ROW_ID, REASON_CODE, REASON).iter_rows())
    )
    reasons += [(rid, RejectReason.TARGET_REJECTED.value, why) for rid, why in failed]
    fields = None if planned is None or not planned.field_problems.height else planned.field_problems
    if not reasons and fields is None:
        return None, None
    why = pl.DataFrame(
        reasons, schema={ROW_ID: pl.Int64, REASON_CODE: pl.String, REASON: pl.String}, orient="row"
    )
    known = read.validation.field_problem_raw
    field_ids = set() if fields is None else set(fields.get_column(ROW_ID).to_list())
    have = set(known.get_column(ROW_ID).to_list()) if known.height else set()
    raw = raw_rows(sources, read, {*why.get_column(ROW_ID).to_list(), *(field_ids - have)})
    rejected = (
        None
        if raw is None or not why.height
        else raw.join(why, on=ROW_ID, how="inner", maintain_order="left")
    )
    if fields is None:
        return rejected, None
    cells = known.filter(pl.col(ROW_ID).is_in(list(field_ids)))
    if raw is not None:
        cells = pl.concat(
            [cells, raw.filter(pl.col(ROW_ID).is_in(list(field_ids - have)))], how="diagonal_relaxed"
        )
    return rejected, (fields, cells.drop(FIELD, strict=False))
