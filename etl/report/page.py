"""The report page's view: plain words and picture data derived from the report documents, then rendered.

The templates (``templates/``) only lay out what this module decides; the decisions that need Python —
which outcomes a run has, what a reason code means, how rows became contacts, how long a run took — are
made here, once, for validate's and migrate's page alike. Jinja2's autoescape escapes every value: the
documents carry an export's cells, headers and file names, which are untrusted input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from etl.reasons import RejectReason

# What happened to a source row, in the order a reader takes them in, with a colour and a plain label.
ROW_OUTCOMES = (
    ("created", "created", "#12b76a"),
    ("updated", "updated", "#2e90fa"),
    ("unchanged", "already up to date", "#84caff"),
    ("skipped", "skipped (no consent to import)", "#98a2b3"),
    ("failed", "refused by Benchmark", "#d92d20"),
    ("rejected", "rejected (see rejects.csv)", "#f04438"),
    ("pending", "not sent yet", "#fdb022"),
)
CONSENT = (
    # first: the contacts nobody can say anything about yet (report.json's consent.undecided_rows)
    ("undecided", "undecided — migrate will stop until the consent column is settled", "#c11574"),
    ("subscribed", "subscribed", "#12b76a"),
    ("unsubscribed", "unsubscribed (imported as Inactive)", "#f79009"),
    ("cleaned", "cleaned (imported as Inactive)", "#f04438"),
    ("pending", "pending (skipped by default)", "#7a5af8"),
    ("no_consent", "no consent (skipped by default)", "#98a2b3"),
)
STATE_WORDS = {
    "complete": "Migration complete",
    "paused": "Migration paused",
    "stopped": "Migration stopped before writing anything",
    "dry_run": "Dry run: nothing was written",
}
NOT_STORED = {"status": "read as consent", "status_flag": "read as consent", "consent": "read as consent"}
NOT_STORED_OTHER = {"event_time": "used to pick the newest row", "ignored": "not stored"}
SAMPLE_VALUES = 3


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("etl.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["n"] = _n  # thousands separators, in the macros too (they do not see the render context)
    return env


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def segments(counts: dict[str, Any], order: tuple[tuple[str, str, str], ...]) -> list[dict[str, Any]]:
    """Stacked-bar segments (only the non-zero ones), each with its share in percent for the SVG."""
    total = sum(int(counts.get(k) or 0) for k, _, _ in order)
    out, x = [], 0.0
    for key, label, color in order:
        count = int(counts.get(key) or 0)
        if not count:
            continue
        width = 100.0 * count / total
        out.append({"key": key, "label": label, "color": color, "count": count, "x": x, "width": width})
        x += width
    return out


def consent_counts(doc: dict[str, Any]) -> dict[str, int]:
    """The consent bar's counts: ``by_status`` and the undecided contacts beside them (report.json keeps
    those out of ``by_status``: they are no status's until a person settles the column)."""
    counts = {k: int(v or 0) for k, v in (doc.get("by_status") or {}).items()}
    counts["undecided"] = int((doc.get("consent") or {}).get("undecided_rows") or 0)
    return counts


def _meaning(code: str) -> str:
    try:
        return RejectReason(code).meaning
    except ValueError:
        if code.startswith("contract_"):
            return f"The {code.removeprefix('contract_')} value breaks the contract a contact must meet."
        return ""


def _rejects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    by_reason: dict[str, int] = doc.get("rejects_by_reason") or {}
    top = max(by_reason.values(), default=0) or 1
    return [
        {
            "code": code,
            "count": count,
            "width": 100.0 * count / top,
            "meaning": _meaning(code),
            "samples": (doc.get("reject_samples") or {}).get(code, []),
        }
        for code, count in by_reason.items()
    ]


def rows_to_contacts(doc: dict[str, Any]) -> str:
    """``7 rows → 6 contacts: 1 duplicate row merged``: the two counts a reader otherwise confuses."""
    t = doc["rows"]
    read, valid = int(t["read"]), int(t["valid"])
    merged, rejected = int(t["merged_duplicate"]), int(doc["rows"].get("rejected") or 0)
    why = []
    if merged:
        why.append(f"{_plural(merged, 'duplicate row')} merged into another row of the same address")
    if rejected:
        why.append(f"{_plural(rejected, 'row')} rejected")
    text = f"{_plural(read, 'row')} → {_plural(valid, 'contact')}"
    return text + (": " + ", ".join(why) if why else ": one row per contact")


def _headline(doc: dict[str, Any]) -> str:
    state = doc.get("state")
    if state is None:
        return "Checked offline: nothing was sent to Benchmark"
    return STATE_WORDS.get(state, state)


def every_contact(doc: dict[str, Any]) -> dict[str, int] | None:
    """Contacts by outcome, those skipped for their consent included (the load never plans them, so the
    ledger's ``contacts`` leaves them out), when they add up with the merged and rejected rows to the rows
    read; ``None`` when they do not (then the rows' own totals are shown)."""
    contacts, t = doc.get("contacts"), doc["rows"]
    if not contacts:
        return None
    counts = {k: int(contacts.get(k) or 0) for k, _, _ in ROW_OUTCOMES if k != "rejected"}
    by_status = doc.get("by_status") or {}
    rest = int(t.get("merged_duplicate") or 0) + int(t.get("rejected") or 0)
    for extra in (0, int(by_status.get("pending") or 0) + int(by_status.get("no_consent") or 0)):
        trial = {**counts, "skipped": counts["skipped"] + extra}
        if sum(trial.values()) + rest == int(t["read"]):
            return trial
    return None


def _contact_line(doc: dict[str, Any]) -> str:
    """What happened to contacts (not rows): ``Contacts: 6 created, 1 skipped``."""
    contacts = every_contact(doc) or doc.get("contacts")
    if not contacts:
        return ""
    names = {"skipped": "skipped (no consent)", "pending": "not sent yet", "failed": "refused"}
    parts = [
        f"{int(contacts.get(k) or 0):,} {names.get(k, k)}"
        for k in ("created", "updated", "unchanged", "skipped", "failed", "pending")
        if contacts.get(k)
    ]
    if doc.get("state") == "dry_run":
        return "Contacts a real run would write: " + (", ".join(parts) if parts else "none")
    return "Contacts: " + (", ".join(parts) if parts else "none")


MERGED = ("merged_duplicate", "merged into another row of the same address", "#b692f6")


def _row_picture(doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, str, str], ...]]:
    """Every row read, once: a row became a contact (shown with the contact's outcome), was merged into
    another row of the same address, or was rejected. A run's row totals give a merged row its contact's
    outcome ("created 7" for 6 contacts); the contacts' counts do not, so they are used when they add up."""
    t = doc["rows"]
    merged, rejected = int(t.get("merged_duplicate") or 0), int(t.get("rejected") or 0)
    if doc.get("state") is None:  # validate: nothing happened yet
        counts = {"valid": t["valid"], "merged_duplicate": merged, "rejected": rejected}
        order = (("valid", "valid contacts", "#12b76a"), MERGED, ROW_OUTCOMES[5])
        return counts, order
    if doc.get("state") == "stopped":  # nothing was written: the rows that would have been are held back
        counts = {"held": t["valid"], "merged_duplicate": merged, "rejected": rejected}
        order = (("held", "not written: the run stopped before writing", "#98a2b3"), MERGED, ROW_OUTCOMES[5])
        return counts, order
    contacts = every_contact(doc)
    if contacts is not None:
        return {**contacts, "merged_duplicate": merged, "rejected": rejected}, (
            *ROW_OUTCOMES[:5],
            MERGED,
            *ROW_OUTCOMES[5:],
        )
    return dict(t), ROW_OUTCOMES


def _not_stored(doc: dict[str, Any]) -> list[dict[str, str]]:
    m = doc.get("mapping") or {}
    out = []
    for c in m.get("columns") or []:
        kind = c.get("kind")
        if kind in NOT_STORED:
            out.append({"source": c["source"], "why": NOT_STORED[kind]})
        elif kind in NOT_STORED_OTHER:
            out.append({"source": c["source"], "why": c.get("note") or NOT_STORED_OTHER[kind]})
    return out


def _mapping(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The mapping table's rows: each source column, where it goes, how often it is filled, a few values.
    Without the mapping stage's section (validate alone in a test) the validated field columns stand in."""
    m = doc.get("mapping") or {}
    samples: dict[str, list[str]] = doc.get("column_samples") or {}
    fill: dict[str, float] = doc.get("fill_rates") or {}
    columns = m.get("columns") or [
        {"source": f["source"], "kind": "field", "target": f["label"]} for f in doc.get("fields") or []
    ]
    out = []
    for c in columns:
        target = c.get("target") or ""
        rate = fill.get(target) if c.get("kind") == "field" else None
        out.append(
            {
                "source": c["source"],
                "kind": c.get("kind") or "",
                "target": target,
                "note": c.get("note") or "",
                "filled": None if rate is None else f"{rate:.0%}",
                "samples": samples.get(c["source"], [])[:SAMPLE_VALUES],
            }
        )
    return out


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _stamp(when: datetime | None, raw: Any, day: str = "") -> str:
    """``2026-12-02 19:37:19 UTC``; the time alone when ``day`` (the start's date) is the same."""
    if when is None:
        return "" if raw is None else str(raw)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return text[11:] if day and text.startswith(day) else text + " UTC"


def _timeline(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The run's invocations (from report.json's ``invocations``) with their durations, and the total."""
    out, total = [], 0.0
    for inv in doc.get("invocations") or []:
        start, end = _when(inv.get("started")), _when(inv.get("ended"))
        seconds = (end - start).total_seconds() if start and end else 0.0
        total += seconds
        started = _stamp(start, inv.get("started"))
        ended = _stamp(end, inv.get("ended"), started[:10])
        out.append({**inv, "started": started, "ended": ended, "took": duration(seconds)})
    return out, (duration(total) if out else "")


def _cost(doc: dict[str, Any]) -> dict[str, Any]:
    plan = doc.get("plan") or {}
    estimate = plan.get("estimate", plan)  # the offline estimate (validate's plan)
    dry = doc.get("dry_run")
    requests = doc.get("requests")
    return {
        "used": None if requests is None or dry is not None else int(requests.get("total") or 0),
        "planned": int(dry["total_requests"]) if dry else int(estimate.get("requests") or 0),
        "planned_is_exact": dry is not None,
        "hours": float(dry["hours"] if dry and dry.get("hours") is not None else estimate.get("hours") or 0),
        "by_endpoint": (requests or {}).get("by_endpoint") or (dry or {}).get("by_endpoint") or {},
        "assumptions": estimate.get("assumptions") or [],
        # how the account was read and what the other ways would have cost (docs/loading.md)
        "read": (doc.get("load") or {}).get("read") or (dry or {}).get("read") or None,
    }


def _verify(verify: dict[str, Any] | None) -> dict[str, Any] | None:
    if verify is None:
        return None
    return {**verify, "spent": int((verify.get("requests") or {}).get("total") or 0)}


def view(
    doc: dict[str, Any], verify: dict[str, Any] | None = None, verify_note: str | None = None
) -> dict[str, Any]:
    """Everything the templates show, derived from ``report.json`` (and ``verify.json``)."""
    state = doc.get("state")
    timeline, took = _timeline(doc)
    row_counts, row_order = _row_picture(doc)
    fp = doc.get("field_problems") or {}
    changes = doc.get("changes_since_last_run") or None
    load = doc.get("load") or {}
    return {
        "doc": doc,
        "run": state is not None,
        "state": state,
        "title": "Migration report" if state is not None else "Validation report",
        "headline": _headline(doc),
        "rows_to_contacts": rows_to_contacts(doc),
        "contact_line": _contact_line(doc),
        "row_segments": segments(row_counts, row_order),
        "consent_segments": segments(consent_counts(doc), CONSENT),
        "undecided": int((doc.get("consent") or {}).get("undecided_rows") or 0),
        "rejects": _rejects(doc),
        "field_problems": fp if fp.get("cells") else None,
        "consent": doc.get("consent") or {"columns": [], "decided_by": [], "needs_decision": []},
        "not_stored": _not_stored(doc),
        "unfilled": (doc.get("mapping") or {}).get("unfilled_fields") or [],
        "mapping": _mapping(doc),
        "changes": changes,
        "duplicates": doc.get("duplicates") or {"groups": 0, "rows_merged": 0, "sample": []},
        "cost": _cost(doc),
        "timeline": timeline,
        "took": took,
        "load": load,
        "verify": _verify(verify),
        "verify_note": verify_note,
        "files": doc.get("files") or [],
    }


def render_page(
    doc: dict[str, Any], verify: dict[str, Any] | None = None, *, verify_note: str | None = None
) -> str:
    """``report.html`` from the ``report.json`` document and, once the run was read back, ``verify.json``.

    ``verify_note`` says why there is no read-back on a complete run (``--no-verify``, the request cap).
    """
    return _env().get_template("report.html").render(**view(doc, verify, verify_note))
