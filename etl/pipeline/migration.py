"""The whole migration as one library call: validate → resolve → transform → load → report.

The CLI parses flags, opens the target and prints; everything between is here, so a script can call it.
A resumed run never re-resolves the mapping: the resolved ids are saved in the ledger with the run, and the
run id already pins the sources' content, the mapping and the target.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from etl.errors import ConfigError, ConsentUnclear, Paused
from etl.extract.legacy_api import OnPage
from etl.extract.options import ReadOptions
from etl.load.dryrun import DryRunPlan, SimulatedWrites, dry_run
from etl.load.guard import stop_reason
from etl.load.ledger import Ledger, file_digest, fingerprint, ledger_errors
from etl.load.loader import LoadSummary, Progress
from etl.load.run import LoadSettings, load
from etl.mailbox import ascii_form
from etl.mapping.plan import report_section
from etl.mapping.resolve import ResolveOptions, resolve_mapping, resolved_from_json, resolved_to_json
from etl.mapping.transform import TransformResult, distinct_names, plan_contacts
from etl.model import EMAIL_RAW, KEY, REASON, REASON_CODE, ROW_ID, Outcome
from etl.paths import report_dir
from etl.pipeline.inputs import LegacyOptions, SourceRead, raw_rows, read_inputs
from etl.pipeline.migration_report import load_section, write_migration_report
from etl.presets.preset import ConsentChoices, Preset
from etl.reasons import RejectReason
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


def _raw_variants(result: ValidationResult) -> dict[str, list[str]]:
    """key → the address as the export spelled it and, for a non-ASCII domain, its punycode spelling, where
    they differ from the key (for the account's key searches, which compare strings)."""
    canon = result.canonical
    if EMAIL_RAW not in canon.columns:
        return {}
    out: dict[str, list[str]] = {}
    for key, raw in canon.select(KEY, EMAIL_RAW).iter_rows():
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
) -> MigrateResult:
    hooks = hooks or Hooks()
    clock = clock or SystemClock()
    read = read_inputs(
        opts.sources,
        preset=opts.preset,
        state_dir=state_dir,
        legacy=opts.legacy,
        progress=hooks.on_rows,
        on_page=hooks.on_page,
        clock=clock,
        consent=opts.consent,
        options=opts.read,
    )
    result = read.validation
    if result.consent.unclear and not opts.dry_run:  # fail closed, before the first request
        raise ConsentUnclear(result.consent.stop_message())
    run_id = run_fingerprint(opts, base_url, read.identity)
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
    stop = (
        None
        if opts.allow_mostly_rejected
        else stop_reason(result, import_unconfirmed=opts.import_unconfirmed)
    )
    if opts.dry_run:
        simulated = SimulatedWrites(httpx.HTTPTransport())
        # one pacer for the resolution and the index reads: --max-requests bounds them together; one
        # counter for every request the real run would send, the simulated writes included
        pacer = Pacer(clock, reserve=opts.reserve, max_requests=opts.max_requests, on_wait=hooks.on_wait)
        sent: Counter[str] = Counter()

        def count(endpoint: str) -> None:
            sent[endpoint] += 1

        with BenchmarkClient(
            base_url, api_key, transport=simulated, clock=clock, pacer=pacer, on_request=count
        ) as http:
            (preview, preview_structure), _, mapping_doc = _plan(result, resolve_opts, opts, http, saved=None)
        upstream = Counter(outcome for _, _, outcome, _ in _upstream_outcomes(result, preview))
        with BenchmarkClient(base_url, api_key, clock=clock, pacer=pacer, on_request=count) as client:
            plan = dry_run(
                client,
                preview_structure,
                preview.contacts,
                policy=opts.on_existing,
                reserve=opts.reserve,
                would_create=simulated.created,
                variants=_raw_variants(result),
                sent=sent,
                upstream=upstream,
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
            warnings=read.warnings,
            stop_reason=stop,
        )

    with Ledger.open(state_dir) as ledger, ledger_errors(ledger.path):
        run_ledger = ledger.run(run_id)
        plan_of_run: list[TransformResult] = []  # set once the run's plan is known

        def report(state: str) -> tuple[ReportFiles, dict[str, Any]]:
            section = load_section(run_ledger)
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
                )
            except ConfigError as exc:  # e.g. a full disk: the ledger holds the run, only the report is owed
                raise ConfigError(
                    f"{exc}; the run's ledger is intact: run the same command again to write the report"
                ) from None

        def complete(summary: LoadSummary | None) -> MigrateResult:
            files, doc = report("complete")
            total = sum(run_ledger.request_counts().values())
            return MigrateResult(
                run_id,
                "complete",
                files,
                doc,
                summary=summary,
                validation=result,
                requests_before=before,
                requests_total=total,
                already_complete=summary is None,
                warnings=read.warnings,
            )

        before = sum(run_ledger.request_counts().values())
        info = run_ledger.info()
        if hooks.on_run is not None:
            hooks.on_run(run_id, before)
        if info is not None and info.state == "complete":  # nothing left to send: only re-report
            return complete(None)
        if info is None and stop is not None:  # before any write, resolution's included: nothing starts
            files, doc = report("stopped")
            return MigrateResult(
                run_id, "stopped", files, doc, validation=result, warnings=read.warnings, stop_reason=stop
            )
        # resolution's requests are paced, retried and counted (before they are sent) like the load's, and
        # --max-requests bounds them with the load's: the load gets what resolution left of it
        setup_pacer = Pacer(
            clock, reserve=opts.reserve, max_requests=opts.max_requests, on_wait=hooks.on_wait
        )
        setup_pacer.expect(SETUP_REQUESTS)  # a handful: sent at once unless the window is nearly spent
        with BenchmarkClient(
            base_url,
            api_key,
            clock=clock,
            pacer=setup_pacer,
            on_request=run_ledger.count_request,
        ) as http:
            (planned, structure_id), fresh, mapping_doc = _plan(
                result, resolve_opts, opts, http, saved=run_ledger.get_meta("resolved_mapping")
            )
        setup_pacer.check_reserve()  # an impossible --reserve stops here, before the run's first write
        plan_of_run.append(planned)
        if fresh is not None:
            run_ledger.start(
                base_url=base_url,
                structure_id=structure_id,
                label=" ".join(opts.sources)[:200],
                resume_command=opts.resume_command,
            )
            run_ledger.set_meta("resolved_mapping", fresh)
            run_ledger.set_meta("mapping_report", json.dumps(mapping_doc))
        if run_ledger.get_meta("upstream_recorded") is None:
            run_ledger.add_plan(planned.contacts)
            run_ledger.record_rows(_upstream_outcomes(result, planned))
            run_ledger.set_meta("upstream_recorded", "1")
        if hooks.on_plan is not None:
            hooks.on_plan(len(planned.contacts))
        settings = LoadSettings(
            base_url,
            api_key,
            state_dir,
            structure_id,
            run_id,
            on_existing=opts.on_existing,
            reserve=opts.reserve,
            max_requests=opts.max_requests,
            requests_sent=setup_pacer.sent,
            label=" ".join(opts.sources)[:200],
            resume_command=opts.resume_command,
        )
        try:
            summary = load(
                planned.contacts,
                settings,
                variants=_raw_variants(result),
                clock=clock,
                on_wait=hooks.on_wait,
                on_progress=hooks.on_progress,
                should_stop=hooks.should_stop,
                on_start=hooks.on_start,
                ledger=ledger,
            )
        except Paused:
            report("paused")
            raise
        return complete(summary)


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
