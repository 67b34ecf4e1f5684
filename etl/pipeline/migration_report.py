"""The migration report: the validate report (same writer, same files) plus what the load did.

``report.json`` keeps every validate key and gains: ``run_id``; ``state`` (``complete`` | ``paused`` |
``dry_run`` | ``stopped``: nothing was written, ``load.stop_reason`` says why; a dry run that a real run
would stop says so in ``load.would_stop``); ``resume_after`` (UTC, or null); ``totals.created/updated/unchanged/skipped/failed/pending``
(per source row, from the ledger); ``requests`` ``{total, by_endpoint}``; ``load`` (policy, index strategy,
pause reason, resume command, the first failures); ``changes_since_last_run`` (a run over a newer export
with a state dir that wrote these people before: ``updated``, ``conflicts`` with field, source value,
Benchmark value and base, ``unsubscribed``, ``new``, ``gone_from_source``; null when no earlier run of the
target wrote anything) and, for a dry run, ``dry_run`` (the exact plan; its
rows' split is the dry run's ``totals``, as a real run's would be).
``report.html`` is the validate page with a migration section on top; ``rejects.csv`` is validate's.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from etl.atomic import write_atomically
from etl.load.ledger import RunLedger
from etl.model import ROW_ID
from etl.validate.core import ValidationResult
from etl.validate.html import render_html
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
        "requests": {"total": sum(requests.values()), "by_endpoint": dict(sorted(requests.items()))},
        "state": info.state if info else None,
        "pause_reason": info.pause_reason if info else None,
        "resume_after": info.resume_after if info else None,
        "resume_command": info.resume_command if info else None,
        "index_strategy": run.get_meta("index_strategy"),
        "status_on_create": run.get_meta("status_on_create"),
        "failures": failures,
        "changes_since_last_run": run.changes_since_last_run(),
    }


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
) -> tuple[ReportFiles, dict[str, Any]]:
    """``later_rejects``: rows rejected after validate (mapping, the target) in validate's ``rejected_raw``
    shape; ``rejects.csv`` lists them with validate's, so every row that did not arrive can be fixed.
    ``later_field_problems``: values mapping left out (``type_mismatch``) and those rows' cells as read,
    in validate's ``field_problems``/``field_problem_raw`` shapes; counted and listed with validate's."""
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
            doc["totals"][name] = rows.get(name, 0)
        if "rejected" in rows:
            doc["totals"]["rejected"] = rows["rejected"]  # validate's rejects plus mapping's type rejects
        doc["requests"] = section["requests"]
        doc["changes_since_last_run"] = section.get("changes_since_last_run")
        doc["load"] = {
            k: v for k, v in section.items() if k not in ("rows", "requests", "changes_since_last_run")
        }
    else:
        doc["requests"] = {"total": 0, "by_endpoint": {}}
    if dry_run is not None:
        doc["dry_run"] = dry_run
        # the rows' split the real run would report, in the same place: a dry run's totals are its plan's
        for name, count in dry_run.get("rows", {}).items():
            doc["totals"][name] = count
    if extra:
        doc["load"] = {**doc.get("load", {}), **extra}
    files = ReportFiles(
        json=out_dir / "report.json", html=out_dir / "report.html", rejects=out_dir / "rejects.csv"
    )
    if later_rejects is not None and later_rejects.height:
        rejected = pl.concat([result.rejected_raw, later_rejects], how="diagonal_relaxed").sort(ROW_ID)
        result = replace(result, rejected_raw=rejected)
    page = _with_migration(render_html(doc), doc)
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


def _with_migration(page: str, doc: dict[str, Any]) -> str:
    """The validate page, retitled, with a migration section at the top of ``<main>``."""
    t = doc["totals"]
    cells = "".join(
        f'<tr><td>{html.escape(k)}</td><td class="num">{t.get(k, 0):,}</td></tr>'
        for k in (*LOAD_OUTCOMES, "rejected")
    )
    req = doc.get("requests", {})
    by_ep = "".join(
        f'<tr><td><code>{html.escape(k)}</code></td><td class="num">{v:,}</td></tr>'
        for k, v in req.get("by_endpoint", {}).items()
    )
    load = doc.get("load", {})
    note = ""
    if doc["state"] == "paused":
        note = (
            f"<p><b>Paused</b>: {html.escape(str(load.get('pause_reason') or ''))}"
            + (f" — resume after {html.escape(str(doc['resume_after']))}" if doc.get("resume_after") else "")
            + (
                f". Resume with <code>{html.escape(str(load.get('resume_command')))}</code>"
                if load.get("resume_command")
                else ""
            )
            + "</p>"
        )
    if doc["state"] == "stopped":
        note = (
            f"<p><b>Stopped before writing anything</b>: {html.escape(str(load.get('stop_reason') or ''))}. "
            "Fix the export (see the problems below and rejects.csv), or run again with "
            "<code>--allow-mostly-rejected</code> to load anyway.</p>"
        )
    if doc["state"] == "dry_run":
        d = doc.get("dry_run", {})
        note = (
            "<p><b>Dry run</b>: nothing was written. Exact plan: "
            + html.escape(", ".join(f"{k} {v:,}" for k, v in d.get("contacts", {}).items()))
            + f"; {d.get('total_requests', 0):,} requests.</p>"
        )
        if load.get("would_stop"):
            note += (
                f"<p><b>A real run would stop before writing</b>: {html.escape(str(load['would_stop']))} "
                "(<code>--allow-mostly-rejected</code> to load anyway).</p>"
            )
    section = (
        f'<h1>Migration — {html.escape(doc["state"])}</h1><p class="muted">run '
        f"<code>{html.escape(doc['run_id'])}</code></p>{note}<section><table><tr><th>rows</th><th></th></tr>"
        f"{cells}</table><table><tr><th>requests by endpoint</th><th>{req.get('total', 0):,}</th></tr>"
        f"{by_ep}</table></section>{_changes_html(doc.get('changes_since_last_run'))}"
    )
    page = page.replace("<title>Validation report", "<title>Migration report", 1)
    page = page.replace(" · nothing was sent to Benchmark", "", 1)
    return page.replace("<main>", "<main>" + section, 1)


def _changes_html(changes: dict[str, Any] | None) -> str:
    """The "changes since last run" section: counts, the conflicts with both values, the other keys."""
    if not changes:
        return ""
    esc = html.escape
    counts = "".join(
        f'<tr><td>{esc(name.replace("_", " "))}</td><td class="num">{changes[name]["count"]:,}</td></tr>'
        for name in ("updated", "conflicts", "unsubscribed", "new", "gone_from_source")
    )
    conflicts = "".join(
        f"<tr><td>{esc(c['key'])}</td><td><code>{esc(c['field'])}</code></td><td>{esc(str(c['source']))}</td>"
        f"<td>{esc(str(c['benchmark']))}</td><td>{esc(str(c['base'] if c['base'] is not None else ''))}</td></tr>"
        for c in changes["conflicts"]["items"]
    )
    lists = "".join(
        f"<p><b>{esc(name.replace('_', ' '))}</b>: {esc(', '.join(changes[name]['keys']))}"
        + (" …" if changes[name]["count"] > len(changes[name]["keys"]) else "")
        + "</p>"
        for name in ("updated", "unsubscribed", "new", "gone_from_source")
        if changes[name]["count"]
    )
    table = (
        "<table><tr><th>key</th><th>field</th><th>source</th><th>Benchmark</th><th>last written</th></tr>"
        f"{conflicts}</table>"
        if conflicts
        else ""
    )
    return (
        '<section><h2>Changes since last run</h2><p class="muted">Three-way merge against what this state '
        "dir wrote last: fields edited in Benchmark since are conflicts, "
        + ("overwritten with the source's value" if changes.get("on_conflict") == "source" else "kept")
        + f"; people gone from the export are listed, never deleted.</p><table>{counts}</table>{table}{lists}"
        "</section>"
    )
