"""The migration report: the validate report (same writer, same files) plus what the load did.

``report.json`` keeps every validate key and gains: ``run_id``; ``state`` (``complete`` | ``paused`` |
``dry_run`` | ``stopped``: nothing was written, ``load.stop_reason`` says why; a dry run that a real run
would stop says so in ``load.would_stop``); ``resume_after`` (UTC, or null); ``rows.created/updated/unchanged/skipped/failed/pending``
(per source row, from the ledger); ``requests`` ``{total, by_endpoint}``; ``load`` (policy, index strategy,
pause reason, resume command, the first failures); ``changes_since_last_run`` (a run over a newer export
with a state dir that wrote these people before: ``updated``, ``conflicts`` with field, source value,
Benchmark value and base, ``unsubscribed``, ``new``, ``gone_from_source``; null when no earlier run of the
target wrote anything) and, for a dry run, ``dry_run`` (the exact plan; its
rows' split is the dry run's ``rows``, as a real run's would be).
``report.html`` is the validate page with a migration section on top; ``rejects.csv`` is validate's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from etl.atomic import write_atomically
from etl.events import FAIL, FINISH, LOAD_START, PAUSE, START, read_events
from etl.load.ledger import RunLedger
from etl.model import ROW_ID, Status
from etl.report import render_page
from etl.report.files import run_verify_doc
from etl.validate.core import ValidationResult
from etl.validate.report import ReportFiles, build_report, report_writers

LOAD_OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed", "pending")
MAX_FAILURES = 200


def load_section(run: RunLedger) -> dict[str, Any]:
    """Totals, requests and failures of one run, read back from the ledger (the source of truth)."""
    rows = run.row_totals()
    requests = run.request_counts()
    info = run.info()
    failures = [
        {"row_id": rid, "key": key, "reason": reason}
        for rid, key, _, reason in run.row_outcomes(("failed",))  # not every row: a run has millions
    ][:MAX_FAILURES]
    return {
        "rows": rows,
        "contacts": run.contact_totals(),
        "requests": {"total": sum(requests.values()), "by_endpoint": dict(sorted(requests.items()))},
        "state": info.state if info else None,
        "pause_reason": info.pause_reason if info else None,
        "resume_after": info.resume_after if info else None,
        "resume_command": info.resume_command if info else None,
        "index_strategy": run.get_meta("index_strategy"),
        "read": _read(run.get_meta("index")),
        "status_on_create": run.get_meta("status_on_create"),
        "failures": failures,
        "changes_since_last_run": run.changes_since_last_run(),
    }


def _read(index: str | None) -> dict[str, Any] | None:
    """How the load read the account and its price (``etl.load.index.IndexResult.read_section``)."""
    read = json.loads(index).get("read") if index else None
    return read if isinstance(read, dict) else None


def write_migration_report(
    result: ValidationResult,
    out_dir: Path,
    *,
    generated_at: str,
    run_id: str,
    state: str,
    section: dict[str, Any] | None = None,
    dry_run: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    mapping: dict[str, Any] | None = None,
    later_rejects: pl.DataFrame | None = None,
    later_field_problems: tuple[pl.DataFrame, pl.DataFrame] | None = None,
    invocations: list[dict[str, Any]] | None = None,
) -> tuple[ReportFiles, dict[str, Any]]:
    """``later_rejects``: rows rejected after validate (mapping, the target) in validate's ``rejected_raw``
    shape; ``rejects.csv`` lists them with validate's, so every row that did not arrive can be fixed.
    ``later_field_problems``: values mapping left out (``type_mismatch``) and those rows' cells as read,
    in validate's ``field_problems``/``field_problem_raw`` shapes; counted and listed with validate's.
    ``invocations``: the run's timeline (``run_invocations``), shown on the page of a resumed run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if later_field_problems is not None and later_field_problems[0].height:
        result = _with_field_problems(result, *later_field_problems)
    doc = build_report(result, generated_at=generated_at, mapping=mapping)
    doc["run_id"] = run_id
    doc["state"] = state
    doc["resume_after"] = section.get("resume_after") if section else None
    if section is not None:
        rows = section["rows"]
        for name in LOAD_OUTCOMES:
            doc["rows"][name] = rows.get(name, 0)
        if "rejected" in rows:
            doc["rows"]["rejected"] = rows["rejected"]  # validate's rejects plus mapping's type rejects
        doc["requests"] = section["requests"]
        doc["contacts"] = _contacts(section.get("contacts") or {})
        doc["changes_since_last_run"] = section.get("changes_since_last_run")
        doc["load"] = {  # its state is the document's one ``state``
            k: v
            for k, v in section.items()
            if k not in ("rows", "contacts", "requests", "changes_since_last_run", "state")
        }
    else:
        doc["requests"] = {"total": 0, "by_endpoint": {}}
    if dry_run is not None:
        doc["dry_run"] = dry_run
        # the rows' split the real run would report, in the same place: a dry run's rows are its plan's
        for name, count in dry_run.get("rows", {}).items():
            doc["rows"][name] = count
        doc["contacts"] = _contacts({**dry_run.get("contacts", {}), "pending": 0})
    if extra:
        doc["load"] = {**doc.get("load", {}), **extra}
    files = ReportFiles(
        json=out_dir / "report.json", html=out_dir / "report.html", rejects=out_dir / "rejects.csv"
    )
    if later_rejects is not None and later_rejects.height:
        rejected = pl.concat([result.rejected_raw, later_rejects], how="diagonal_relaxed").sort(ROW_ID)
        result = replace(result, rejected_raw=rejected)
    if "contacts" in doc:
        doc["contacts"] = _with_consent_skips(doc["contacts"], doc)
    if invocations is not None:
        doc["invocations"] = invocations
    page = render_page(doc, run_verify_doc(out_dir, run_id))  # a complete run re-reported keeps its read-back
    write_atomically(report_writers(files, doc, page, result))  # all three or none
    return files, doc


def _with_field_problems(
    result: ValidationResult, problems: pl.DataFrame, raw: pl.DataFrame
) -> ValidationResult:
    """``result`` with mapping's field problems added to validate's (row, then field order kept)."""
    table = pl.concat([result.field_problems, problems.select(result.field_problems.columns)])
    cells = pl.concat([result.field_problem_raw, raw], how="diagonal_relaxed")
    return replace(
        result,
        field_problems=table.sort(ROW_ID, maintain_order=True),
        field_problem_raw=cells.unique(ROW_ID, keep="first", maintain_order=True).sort(ROW_ID),
    )


def _contacts(counts: dict[str, int]) -> dict[str, int]:
    """Per contact, not per row (a merged duplicate row is not a second contact): every outcome named, and
    ``planned``, what the load had to settle."""
    out = {name: int(counts.get(name, 0)) for name in LOAD_OUTCOMES}
    return {"planned": sum(out.values()), **out}


def _with_consent_skips(contacts: dict[str, int], doc: dict[str, Any]) -> dict[str, int]:
    """``contacts`` with the contacts skipped for their consent (pending, no consent) counted in
    ``skipped``: the load never plans them, so the ledger does not count them, yet they are contacts of
    the export. Added only when every row is then accounted for (contacts + merged + rejected = read);
    otherwise (a policy that loads some of them) the ledger's counts stand as they are."""
    rows, by_status = doc["rows"], doc.get("by_status") or {}
    extra = sum(int(by_status.get(s.value, 0)) for s in (Status.PENDING, Status.NO_CONSENT))
    outcomes = sum(v for k, v in contacts.items() if k != "planned")
    if extra and outcomes + extra + rows["merged_duplicate"] + rows["rejected"] == rows["read"]:
        return {**contacts, "skipped": contacts["skipped"] + extra}
    return contacts


def run_invocations(events: Path, run_id: str, *, now: str, state: str) -> list[dict[str, Any]]:
    """The invocations of one run, from ``events.jsonl``: a ``start`` opens one (its run id is not known
    yet), a line of the same process naming this run makes it this run's, the next ``pause``/``fail``/
    ``finish`` closes it. One that never closed was killed (``interrupted``). The invocation writing this
    report has not logged its end yet (the report is written first): it ends ``now`` in ``state``. Empty
    when there is no log (a dry run writes none); best effort like the log itself."""
    try:
        lines, _ = read_events(events)
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None

    def opened(at: Any, pid: Any, ours: bool) -> dict[str, Any]:
        return {"at": at, "pid": pid, "ours": ours}

    def close(inv: dict[str, Any], **end: Any) -> None:
        out.append({"started": inv["at"], "ended": None, "reason": None, "requests": None, **end})

    for e in lines:
        kind, pid, ours = e.get("event"), e.get("pid"), e.get("run_id") == run_id
        if kind == START:
            if current is not None and current["ours"]:
                close(current, outcome="interrupted")
            current = opened(e.get("at"), pid, False)
            continue
        if current is None or current["pid"] != pid:
            if not (kind == LOAD_START and ours):  # a log written before ``start`` existed
                continue
            current = opened(e.get("at"), pid, True)
        current["ours"] = current["ours"] or ours
        if kind in (PAUSE, FAIL, FINISH):
            if current["ours"]:
                outcome = {PAUSE: "paused", FAIL: "failed"}.get(kind, e.get("state") or "complete")
                close(current, ended=e.get("at"), outcome=outcome)
                out[-1].update(reason=e.get("reason") or e.get("error"), requests=e.get("requests"))
            current = None
    if current is not None:  # this invocation: its end is this report
        close(current, ended=now, outcome=state)
    return out
