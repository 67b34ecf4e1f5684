"""The dry-run validation report: ``report.json`` (for scripts), ``report.html`` (for people),
``rejects.csv`` (to fix and feed back) and a few terminal lines. Pure functions of a ValidationResult;
nothing here talks to the API.

``report.json`` keys are documented in docs/reports.md (and docs/schema/report.schema.json); bump ``REPORT_VERSION`` on any
incompatible change.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from etl import __version__
from etl.atomic import Writer, text_writer, write_atomically
from etl.model import (
    KEY,
    REASON,
    REASON_CODE,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    Status,
)
from etl.names import col as column
from etl.report import render_page
from etl.validate.core import RAW, ValidationResult
from etl.validate.rows import FIELD, FIELD_VALUE_CHARS, REJECT_COLUMN, REJECT_VALUE
from etl.validate.status import UNDECIDED_STATUS

SCHEMA = "bme-migrate/report"
# bumped on an incompatible change. 2: ``schema``/``version``/``tool_version`` replace ``report_schema``
# and ``version`` (the tool's); ``rows`` (``read`` …) replaces ``totals`` (``rows_read`` …); one ``state``
# (``load.state`` dropped); the offline estimate moved to ``plan.estimate``; ``contacts`` per contact.
REPORT_VERSION = 2
SAMPLE_VALUES = 3  # values shown per column in the report's mapping table
SAMPLE_SCAN = 1000  # …found among the first rows only: a sample, not a scan of a million-row export
SAMPLE_CHARS = 80
SAMPLES_PER_REASON = 5
DUPLICATE_SAMPLE = 20
REQUESTS_PER_SECOND = 1.0  # hours = requests / 3600: the sustained rate the loader plans for
SEARCH_BATCH = 100  # keys per dedup search request
LOADED_STATUSES = (Status.SUBSCRIBED.value, Status.UNSUBSCRIBED.value, Status.CLEANED.value)
# rejects.csv: the original columns, then these. Read back, extract names the two provenance ones
# ``source_file (2)`` and ``source_line (2)`` (its own provenance wins) and validate ignores them all.
# ``field``: empty for a rejected row; for a row that arrived without some fields, their labels.
REJECTS_EXTRA = (REASON_CODE, REASON, SOURCE_FILE, SOURCE_LINE, FIELD)
_FIELD_COLUMN = "__bme_field"  # ``field`` while the frame is built: an export may have a "field" column
FIELD_SEPARATOR = "; "  # joins a row's field problems in one rejects.csv line (field, reason_code, reason)
REJECTS_RAW = "raw_line"  # only present when extract rejected unparseable records
# raw_line keeps at most this many characters, then says how long the record was: the record is in the
# source file at source_line, and a 1 GB unparseable line must not be copied into rejects.csv
RAW_LINE_CHARS = 10_000
FORMULA_START = r"^[=+\-@\t\r]"


@dataclass(frozen=True)
class ReportFiles:
    json: Path
    html: Path
    rejects: Path


def plan_estimate(result: ValidationResult) -> dict[str, Any]:
    """Offline request estimate for the load (the exact plan needs the account: ``migrate --dry-run``)."""
    canon = result.canonical
    # counted, never filtered: a filter of the whole frame copies every column of a million rows
    to_load = int(canon.select(pl.col(STATUS).is_in(LOADED_STATUSES).sum()).item())
    skipped = canon.height - to_load
    searches = math.ceil(to_load / SEARCH_BATCH)
    lists = (
        canon.get_column("lists").list.explode(keep_nulls=False, empty_as_null=False).n_unique()
        if canon.height
        else 0
    )
    has_tags = bool(canon.height) and bool(canon.get_column("tags").list.len().sum())
    # new custom fields and tags go to the account in one structure update (mapping/resolve.py), however many
    custom = any(f.custom for f in result.fields)
    setup = (2 + lists + (1 if custom or has_tags else 0)) if to_load else 0
    requests = to_load + searches + setup
    return {
        "requests": requests,
        "hours": round(requests / (3600 * REQUESTS_PER_SECOND), 3),
        "contacts_to_create": to_load,
        "skipped_by_status": skipped,
        "dedup_searches": searches,
        "setup_requests": setup,
        "assumptions": [
            "offline estimate: the exact plan comes from `bme-migrate migrate --dry-run` against the account",
            "about 1 request per contact to create (subscribed, unsubscribed, cleaned); "
            "pending and no_consent rows are skipped by default",
            f"1 dedup search per {SEARCH_BATCH} contacts; setup = structure + lists read, "
            "one request per list to create, one structure update for all new custom fields and tags",
            f"hours at {REQUESTS_PER_SECOND:g} request/s sustained; contacts already in the account cost less",
        ],
    }


def _samples(result: ValidationResult) -> dict[str, list[dict[str, Any]]]:
    rej = result.rejections
    out: dict[str, list[dict[str, Any]]] = {}
    for code, group in rej.group_by(REASON_CODE, maintain_order=True):
        rows = group.head(SAMPLES_PER_REASON).select(
            SOURCE_FILE, SOURCE_LINE, REJECT_COLUMN, REJECT_VALUE, REASON
        )
        out[str(code[0])] = [
            {"file": f, "line": ln, "column": c, "value": v, "reason": r}
            for f, ln, c, v, r in rows.iter_rows()
        ]
    return out


def field_problem_section(problems: pl.DataFrame) -> dict[str, Any]:
    """``report.json``'s ``field_problems``: cells left out of rows that arrived (``cells``, ``rows``),
    counted per field × reason (``by_field``), with the first samples of each pair."""
    counts = (
        problems.group_by(FIELD, REASON_CODE, maintain_order=True)
        .agg(pl.len().alias("cells"), pl.col(REJECT_COLUMN).first().alias("column"))
        .sort(["cells", FIELD, REASON_CODE], descending=[True, False, False])
    )
    by_field: dict[str, dict[str, int]] = {}
    for fld, code, n, _ in counts.iter_rows():
        by_field.setdefault(fld, {})[code] = n
    samples = (
        problems.group_by(FIELD, REASON_CODE, maintain_order=True)
        .head(SAMPLES_PER_REASON)
        .select(SOURCE_FILE, SOURCE_LINE, KEY, REJECT_COLUMN, FIELD, REASON_CODE, REJECT_VALUE, REASON)
    )
    return {
        "cells": problems.height,
        "rows": problems.get_column(ROW_ID).n_unique() if problems.height else 0,
        "value_chars": FIELD_VALUE_CHARS,
        "by_field": by_field,
        "counts": [
            {"field": f, "column": c, "reason_code": code, "cells": n} for f, code, n, c in counts.iter_rows()
        ],
        "samples": [
            {
                "file": f,
                "line": ln,
                "key": k,
                "column": c,
                "field": fld,
                "reason_code": code,
                "value": v,
                "reason": r,
            }
            for f, ln, k, c, fld, code, v, r in samples.iter_rows()
        ],
    }


def _duplicates(result: ValidationResult) -> dict[str, Any]:
    groups = result.duplicates
    sample = []
    for g in (
        groups.sort("rows", "winner_row_id", descending=[True, False])
        .head(DUPLICATE_SAMPLE)
        .iter_rows(named=True)
    ):
        sample.append(
            {
                "key": g[KEY],
                "rows": g["rows"],
                "status": g[STATUS],
                "kept": f"{g['winner_file']}:{g['winner_line']}",
                "members": [
                    {"file": f, "line": ln, "status": s}
                    for f, ln, s in zip(g["files"], g["lines"], g["statuses"], strict=True)
                ],
            }
        )
    return {"groups": groups.height, "rows_merged": result.counts.merged_duplicate, "sample": sample}


def _fill_rates(result: ValidationResult) -> dict[str, float]:
    canon = result.canonical
    n = canon.height
    cols = [f.label for f in result.fields]
    rates = {c: (round((n - canon.get_column(c).null_count()) / n, 4) if n else 0.0) for c in cols}
    for c in ("tags", "lists"):
        rates[c] = round(int(canon.select((pl.col(c).list.len() > 0).sum()).item()) / n, 4) if n else 0.0
    return rates


def build_report(
    result: ValidationResult, *, generated_at: str, mapping: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``report.json`` document (docs/reports.md has the key table).

    ``mapping`` is the mapping stage's section (where each source column goes); the caller composes the
    stages, so validate never imports mapping.
    """
    by_status = dict.fromkeys((s.value for s in Status), 0)
    by_status.update(dict(result.canonical.group_by(STATUS).len().iter_rows()))
    for status, n in result.consent.undecided:  # not that status: undecided (consent.undecided_rows)
        by_status[status] -= n
    reasons = (
        result.rejections.group_by(REASON_CODE).len().sort(["len", REASON_CODE], descending=[True, False])
    )
    c = result.counts
    det = result.detection
    return {
        "schema": SCHEMA,
        "version": REPORT_VERSION,
        "tool_version": __version__,
        "generated_at": generated_at,
        "platform": result.preset.name,
        "platform_title": result.preset.title,
        "detection": det.to_dict() if det is not None and hasattr(det, "to_dict") else None,
        "rows": {
            "read": c.rows_read,
            "valid": c.valid,
            "rejected": c.rejected,
            "merged_duplicate": c.merged_duplicate,
        },
        "by_status": by_status,
        "rejects_by_reason": dict(reasons.iter_rows()),
        "reject_samples": _samples(result),
        "field_problems": field_problem_section(result.field_problems),
        "fill_rates": _fill_rates(result),
        "fields": [
            {
                "label": f.label,
                "source": f.source,
                "data_type": f.data_type,
                "predefined": f.predefined,
                "custom": f.custom,
            }
            for f in result.fields
        ],
        "files": [
            {
                "path": str(getattr(f, "path", "")),
                "encoding": getattr(f, "encoding", None),
                "delimiter": getattr(f, "delimiter", None),
                "rows": getattr(f, "rows", None),
                "kind": getattr(f, "kind", None),
            }
            for f in result.files
        ],
        "duplicates": _duplicates(result),
        "consent_from_rejects": result.consent_from_rejects,
        "consent": result.consent.to_dict(),
        "plan": {"estimate": plan_estimate(result)},
        "mapping": mapping,
        "column_samples": column_samples(result),
    }


def column_samples(result: ValidationResult) -> dict[str, list[str]]:
    """A few distinct values of each field column, by source column: the report's mapping table shows
    them so the owner sees *what* goes where ("Date added" holding dates, not just a column name)."""
    head = result.canonical.head(SAMPLE_SCAN) if result.field_values else result.field_head
    out: dict[str, list[str]] = {}
    if not head.height:
        return out
    # by position, looked up once: ``head.columns`` builds the list of every name on each call, and a
    # Series method per column runs a query each — with 10,000 columns both made this quadratic
    position = {name: i for i, name in enumerate(head.columns)}
    for f in result.fields:
        i = position.get(f.label)
        if i is None:
            continue
        seen: dict[str, None] = {}
        for value in head.to_series(i).cast(pl.String):  # stops at the first few distinct values
            if value and value not in seen:
                seen[value] = None
                if len(seen) == SAMPLE_VALUES:
                    break
        out[f.source] = [v[:SAMPLE_CHARS] for v in seen]
    return out


def neutralise(expr: pl.Expr) -> pl.Expr:
    """Spreadsheet formula injection guard: a cell starting with ``= + - @``, TAB or CR gets a leading ``'``."""
    return pl.when(expr.str.contains(FORMULA_START)).then(pl.lit("'") + expr).otherwise(expr)


def _field_rows(result: ValidationResult) -> pl.DataFrame:
    """One line per row that arrived without some fields: its cells as read, the fields' labels, codes
    and messages joined by ``FIELD_SEPARATOR`` (in column order), so a fixed line can be fed back whole."""
    problems = result.field_problems
    if not problems.height or not result.field_problem_raw.height:
        return pl.DataFrame()
    joined = problems.group_by(ROW_ID, maintain_order=True).agg(
        pl.col(FIELD).str.join(FIELD_SEPARATOR).alias(_FIELD_COLUMN),
        pl.col(REASON_CODE).str.join(FIELD_SEPARATOR).alias("__bme_code"),
        pl.col(REASON).str.join(FIELD_SEPARATOR).alias("__bme_reason"),
    )
    raw = result.field_problem_raw.unique(ROW_ID, keep="first", maintain_order=True)
    out = raw.join(joined, on=ROW_ID, how="inner", maintain_order="left")
    # like a rejected row's (``_rejected_raw``): the reason columns replace source columns of those names
    return out.with_columns(
        pl.col("__bme_code").alias(REASON_CODE), pl.col("__bme_reason").alias(REASON)
    ).drop("__bme_code", "__bme_reason")


def original_headers(result: ValidationResult) -> dict[str, str]:
    """Column name → the header text as the file had it, for the columns renamed because their header
    repeats another (``Create Date (2)`` → ``Create Date``)."""
    out: dict[str, str] = {}
    for f in result.files:
        for name, text in getattr(f, "renamed", ()) or ():
            out.setdefault(name, text)
    return out


def _cut(raw: pl.Expr) -> pl.Expr:
    """``raw`` past ``RAW_LINE_CHARS`` characters: its start, then ``… [cut: N characters in all]``."""
    n = raw.str.len_chars()
    cut = pl.concat_str(
        [
            raw.str.slice(0, RAW_LINE_CHARS),
            pl.lit("… [cut: "),
            n.cast(pl.String),
            pl.lit(" characters in all]"),
        ]
    )
    return pl.when(n > RAW_LINE_CHARS).then(cut).otherwise(raw)


def rejects_frame(result: ValidationResult) -> pl.DataFrame:
    """rejects.csv's rows: rejected rows, then rows that arrived without some fields (``field`` names
    them), in row order, in their original columns + REJECTS_EXTRA, formula-neutralised."""
    fields = _field_rows(result)
    rr = result.rejected_raw
    if fields.height:
        rr = pl.concat([rr, fields], how="diagonal_relaxed").sort(ROW_ID, maintain_order=True)
    have = set(rr.columns)
    cols = [c for c in result.source_columns if c in have]
    has_raw = RAW in rr.columns and rr.get_column(RAW).null_count() < rr.height
    return rr.select(
        *[neutralise(column(c).cast(pl.String)).alias(c) for c in cols],
        # ours too: a reason quotes cells, a file may be named ``=cmd.csv``, a field label comes from a header
        neutralise(pl.col(REASON_CODE).cast(pl.String)).alias(REASON_CODE),
        neutralise(pl.col(REASON).cast(pl.String)).alias(REASON),
        neutralise(pl.col(SOURCE_FILE).cast(pl.String)).alias(SOURCE_FILE),
        pl.col(SOURCE_LINE),
        neutralise(
            pl.col(_FIELD_COLUMN).cast(pl.String)
            if _FIELD_COLUMN in rr.columns
            else pl.lit(None, dtype=pl.String)
        ).alias(_FIELD_COLUMN),
        *([neutralise(_cut(pl.col(RAW))).alias(REJECTS_RAW)] if has_raw else []),
    )


def rejects_writer(result: ValidationResult, frame: pl.DataFrame) -> Writer:
    """A ``Writer`` of rejects.csv: UTF-8 with BOM (what spreadsheets need to read UTF-8), the header as the
    files had it (a repeated header stays repeated: read back, it is renamed the same way) except that a
    header cell a spreadsheet would run as a formula gets the same leading ``'`` as a data cell."""
    names = {**original_headers(result), _FIELD_COLUMN: FIELD}
    head = io.StringIO()
    cells = [names.get(c, c) for c in frame.columns]
    csv.writer(head, lineterminator="\n").writerow(
        ["'" + c if re.match(FORMULA_START, c) else c for c in cells]
    )

    def write(fh: BinaryIO) -> None:
        fh.write(("\ufeff" + head.getvalue()).encode("utf-8"))
        frame.write_csv(fh, include_header=False)

    return write


def write_rejects_csv(result: ValidationResult, path: Path) -> int:
    """rejects.csv alone, replaced whole or not at all. Returns the line count."""
    out = rejects_frame(result)
    write_atomically([(path, rejects_writer(result, out))])
    return out.height


def report_writers(
    files: ReportFiles, doc: dict[str, Any], page: str, result: ValidationResult
) -> list[tuple[Path, Writer]]:
    """The three report files as one group for ``write_atomically``: all new or all as they were."""
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    return [
        (files.json, text_writer(text)),
        (files.html, text_writer(page)),
        (files.rejects, rejects_writer(result, rejects_frame(result))),
    ]


def write_report(
    result: ValidationResult, out_dir: Path, *, generated_at: str, mapping: dict[str, Any] | None = None
) -> tuple[ReportFiles, dict[str, Any]]:
    """Write the three report files into ``out_dir`` (created) and return their paths and the JSON doc.

    Written atomically as a group (``etl.atomic``): a full disk leaves the previous report whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = build_report(result, generated_at=generated_at, mapping=mapping)
    files = ReportFiles(
        json=out_dir / "report.json", html=out_dir / "report.html", rejects=out_dir / "rejects.csv"
    )
    write_atomically(report_writers(files, doc, render_page(doc), result))
    return files, doc


_DECIDED_LINES = 8


def _decided_by_lines(consent: dict[str, Any] | None) -> list[str]:
    """ "status decided by" lines: which column (file name, default) sent how many rows to which status."""
    if not consent or not consent["decided_by"]:
        return []
    items = sorted(consent["decided_by"], key=lambda d: -d["rows"])
    lines = ["status decided by:"]
    for d in items[:_DECIDED_LINES]:
        said = "" if d["value"] is None else f' = "{d["value"][:40]}"'
        if d["status"] == UNDECIDED_STATUS:  # no status yet: the column must be settled first
            lines.append(f"  {d['rows']:>10,} → {d['status']:<12} {d['by']}{said} cannot be read")
            continue
        lines.append(f"  {d['rows']:>10,} → {d['status']:<12} by {d['by']}{said}")
    if len(items) > _DECIDED_LINES:
        lines.append(f"  … {len(items) - _DECIDED_LINES} more in report.json (consent.decided_by)")
    return lines


_NOT_STORED = {"status": "status", "status_flag": "status", "consent": "status", "event_time": "row date"}


def _not_stored_lines(mapping: dict[str, Any] | None) -> list[str]:
    """One line naming every source column whose values Benchmark will not hold, and why: a person
    should not discover in the HTML that their "Date added" or unsubscribe date went nowhere."""
    if not mapping:
        return []
    gone = [
        f"{c['source'][:40]} ({_NOT_STORED.get(c['kind'], 'ignored')})"
        for c in mapping["columns"]
        if c["kind"] in (*_NOT_STORED, "ignored")
    ]
    if not gone:
        return []
    shown = ", ".join(gone[:12]) + (f", and {len(gone) - 12} more" if len(gone) > 12 else "")
    return [f"not stored in Benchmark: {shown} (see report.html, Column mapping)"]


def detection_note(det: dict[str, Any] | None) -> str:
    """What detection decided, for the platform line: `` (detected, confidence 87%)``, or for the generic
    fallback its own message (`` (no preset above 50%; closest: kit 31%, ghost 22% — pick one with --preset
    NAME)``) — never a confidence for `generic` itself. Empty when the user chose the preset."""
    if not det:
        return ""
    if det.get("message"):
        return f" ({det['message']})"
    return f" (detected, confidence {det['confidence']:.0%})"


def status_line(doc: dict[str, Any]) -> str:
    """``valid by status: subscribed 1, …``, and the contacts whose consent is undecided apart: they have
    no status until a person settles the column, and migrate stops until then."""
    line = "valid by status: " + ", ".join(f"{k} {v:,}" for k, v in doc["by_status"].items())
    undecided = int((doc.get("consent") or {}).get("undecided_rows") or 0)
    if undecided:
        line += f"; undecided {undecided:,} (consent unclear: migrate will stop)"
    return line


def validation_lines(doc: dict[str, Any]) -> list[str]:
    """The validate report in a few terminal lines: totals, top reject reasons, duplicates, statuses, the plan."""
    t, p, d = doc["rows"], doc["plan"]["estimate"], doc["duplicates"]
    lines = [
        f"read {t['read']:,} rows from {len(doc['files']) or 'the'} file(s); platform: {doc['platform']}"
        + detection_note(doc.get("detection")),
        f"valid {t['valid']:,} · rejected {t['rejected']:,} · merged duplicates {t['merged_duplicate']:,}",
    ]
    if doc["rejects_by_reason"]:
        top = list(doc["rejects_by_reason"].items())
        shown = ", ".join(f"{k} {v:,}" for k, v in top[:4]) + (", …" if len(top) > 4 else "")
        lines.append(f"rejected by reason: {shown}")
    fp = doc.get("field_problems") or {}
    if fp.get("cells"):
        top = [(c["field"], c["reason_code"], c["cells"]) for c in fp["counts"]]
        shown = ", ".join(f"{f} {code} {n:,}" for f, code, n in top[:4]) + (", …" if len(top) > 4 else "")
        lines.append(
            f"field problems: {fp['cells']:,} value(s) left out of {fp['rows']:,} row(s) that still arrive "
            f"({shown}; listed in rejects.csv)"
        )
    if d["groups"]:
        lines.append(
            f"duplicates: {d['groups']:,} addresses had several rows; {d['rows_merged']:,} rows merged"
        )
    lines.append(status_line(doc))
    lines += _decided_by_lines(doc.get("consent"))
    lines += _not_stored_lines(doc.get("mapping"))
    lines.append(
        f"plan: ~{p['requests']:,} requests ≈ {p['hours']:.2f} h "
        f"({p['contacts_to_create']:,} contacts to create; offline estimate, "
        "`migrate --dry-run` gives the exact plan)"
    )
    return lines
