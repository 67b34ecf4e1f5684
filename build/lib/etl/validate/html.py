"""``report.html``: one self-contained page for a marketer (inline CSS and SVG, no script, no external asset).

It is rendered from the ``report.json`` document only, so the two can never disagree. Every value that
came from the data (addresses, names, file names, column headers) goes through ``_e`` (HTML escaping):
an export is untrusted input.
"""

from __future__ import annotations

from html import escape
from types import MappingProxyType
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.muted{color:#667085}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:12px 16px;min-width:140px}
.card b{display:block;font-size:22px}.bad b{color:#b42318}.ok b{color:#067647}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e4e7ec;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eef0f3;vertical-align:top}
td{overflow-wrap:anywhere}th{white-space:nowrap}
th{background:#f2f4f7}td.num{text-align:right;white-space:nowrap}code{font-size:13px}
section{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:12px 16px}
.sample td{color:#475467;font-size:13px}
"""
_BAR_COLORS = MappingProxyType(
    {
        "subscribed": "#12b76a",
        "unsubscribed": "#f79009",
        "cleaned": "#f04438",
        "pending": "#7a5af8",
        "no_consent": "#98a2b3",
    }
)


def _e(v: object) -> str:
    return escape("" if v is None else str(v), quote=True)


def _file(path: object) -> str:
    """A source's own name (a ZIP member's base name), the full path on hover."""
    full = "" if path is None else str(path)
    short = full.rsplit("::", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1] or full
    return f'<span title="{_e(full)}">{_e(short)}</span>'


def _bars(items: list[tuple[str, float, str]], *, unit: str = "", max_value: float | None = None) -> str:
    """Horizontal bar chart as inline SVG: (label, value, colour) per bar."""
    if not items:
        return '<p class="muted">nothing to show</p>'
    top = max_value if max_value is not None else max((v for _, v, _ in items), default=0) or 1
    row, label_w, bar_w = 24, 220, 560
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{row * len(items) + 4}" role="img">'
    ]
    for i, (label, value, color) in enumerate(items):
        y = i * row + 2
        w = max(0.0, min(1.0, value / top)) * bar_w if top else 0
        shown = f"{value:.0%}" if unit == "%" else f"{value:,.0f}"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" rx="3" fill="{color}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="13">{_e(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _card(label: str, value: object, cls: str = "") -> str:
    v = f"{value:,}" if isinstance(value, int) else _e(value)
    return f'<div class="card {cls}"><b>{v}</b>{_e(label)}</div>'


def _problems(doc: dict[str, Any]) -> str:
    if not doc["rejects_by_reason"]:
        return '<p class="ok">No row was rejected.</p>'
    rows = []
    for code, count in doc["rejects_by_reason"].items():
        rows.append(f'<tr><th>{_e(code)}</th><td class="num">{count:,}</td><td></td><td></td><td></td></tr>')
        for s in doc["reject_samples"].get(code, []):
            rows.append(
                f'<tr class="sample"><td>{_file(s["file"])}</td><td class="num">line {_e(s["line"])}</td>'
                f"<td>{_e(s['column'])}</td><td><code>{_e(s['value'])}</code></td>"
                f"<td>{_e(s['reason'])}</td></tr>"
            )
    return (
        "<table><tr><th>problem</th><th>rows</th><th>column</th><th>value</th><th>detail</th></tr>"
        + "".join(rows)
        + "</table>"
        + '<p class="muted">Every rejected row is in <code>rejects.csv</code> with its reason: '
        "fix it there and validate that file again.</p>"
    )


def _field_problems(doc: dict[str, Any]) -> str:
    """Values left out of contacts that still arrive: counts per field × reason, then a few samples."""
    fp = doc.get("field_problems") or {}
    if not fp.get("cells"):
        return '<p class="ok">Every value could be read.</p>'
    counts = "".join(
        f"<tr><td>{_e(c['field'])}</td><td>{_e(c['column'])}</td><td>{_e(c['reason_code'])}</td>"
        f'<td class="num">{c["cells"]:,}</td></tr>'
        for c in fp["counts"]
    )
    samples = "".join(
        f'<tr class="sample"><td>{_file(s["file"])}</td><td class="num">line {_e(s["line"])}</td>'
        f"<td>{_e(s['field'])}</td><td><code>{_e(s['value'])}</code></td><td>{_e(s['reason'])}</td></tr>"
        for s in fp["samples"]
    )
    return (
        f"<p>{fp['cells']:,} value(s) in {fp['rows']:,} row(s) could not be read: those rows still arrive, "
        "without that field (only the address and consent can reject a row).</p>"
        "<table><tr><th>field</th><th>column</th><th>problem</th><th>values</th></tr>"
        + counts
        + "</table><table><tr><th>file</th><th></th><th>field</th><th>value</th><th>detail</th></tr>"
        + samples
        + "</table>"
        + '<p class="muted">Each such row is in <code>rejects.csv</code> with the <code>field</code> column '
        "naming what was left out: fix it there and migrate that file again to fill the field.</p>"
    )


def _duplicates(doc: dict[str, Any]) -> str:
    d = doc["duplicates"]
    if not d["groups"]:
        return '<p class="muted">No address appears twice.</p>'
    rows = []
    for g in d["sample"]:
        members = "<br>".join(f"{_file(m['file'])}:{_e(m['line'])} ({_e(m['status'])})" for m in g["members"])
        kept_file, _, kept_line = str(g["kept"]).rpartition(":")
        rows.append(
            f'<tr><td>{_e(g["key"])}</td><td class="num">{g["rows"]}</td><td>{_file(kept_file)}:{_e(kept_line)}</td>'
            f"<td>{_e(g['status'])}</td><td>{members}</td></tr>"
        )
    more = d["groups"] - len(d["sample"])
    tail = f'<p class="muted">… and {more:,} more groups (all in report.json totals).</p>' if more > 0 else ""
    return (
        f"<p>Addresses that appear more than once: {d['groups']:,}; rows merged into the row kept: "
        f"{d['rows_merged']:,}. Consent wins: if any row is unsubscribed or cleaned, the person is not imported as "
        "active. Field values come from the latest row; tags and lists are combined.</p>"
        "<table><tr><th>address</th><th>rows</th><th>row kept</th><th>status</th><th>rows merged</th></tr>"
        + "".join(rows)
        + "</table>"
        + tail
    )


def _files(doc: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(f['path'])}</td><td>{_e(f['kind'])}</td><td>{_e(f['encoding'])}</td>"
        f"<td><code>{_e(repr(f['delimiter']) if f['delimiter'] is not None else '')}</code></td>"
        f'<td class="num">{_e(f["rows"])}</td></tr>'
        for f in doc["files"]
    )
    return (
        "<table><tr><th>file</th><th>kind</th><th>encoding</th><th>delimiter</th><th>rows</th></tr>"
        + rows
        + "</table>"
    )


def _mapping(doc: dict[str, Any]) -> str:
    """Where each source column goes, and which account fields nothing fills (the mapping stage's section)."""
    m = doc.get("mapping")
    if not m:
        return ""
    rows = "".join(
        f"<tr><td>{_e(c['source'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['target'] or '')}</td>"
        f"<td><code>{_e(c.get('target_id') or '')}</code></td><td>{_e(c.get('note') or '')}</td></tr>"
        for c in m["columns"]
    )
    unfilled = m.get("unfilled_fields") or []
    left = (
        "<p>Account fields no column fills: "
        + ", ".join(f"<b>{_e(u.get('label'))}</b>" for u in unfilled)
        + "</p>"
        if unfilled
        else ""
    )
    return (
        "<h2>Column mapping</h2><section><table><tr><th>source column</th><th>goes to</th><th>target</th>"
        f"<th>id</th><th>note</th></tr>{rows}</table>{left}</section>"
    )


def _consent(doc: dict[str, Any]) -> str:
    """Which column decided each status, with which value, for how many rows; and the consent columns a
    person must settle before a migration may write (shown first, in red: the run will stop on them)."""
    c = doc.get("consent")
    if not c:
        return ""
    unclear = [col for col in c["columns"] if col["needs_decision"]]
    ask = "".join(
        f"<li><b>{_e(col['column'])}</b> ({_e(col['kind'])}): "
        + ", ".join(
            f"<code>{_e(v['value'])}</code> {v['rows']:,} ({_e(v['read_as'])})" for v in col["values"][:12]
        )
        + f' — say <code>--status-column "{_e(col["column"])}"</code> with <code>--status-value WORD=STATUS</code>,'
        f' or <code>--ignore-column "{_e(col["column"])}"</code></li>'
        for col in unclear
    )
    stop = (
        f'<p class="bad"><b>Migrate will stop before writing:</b> these columns may carry consent and cannot '
        f"be read with confidence.</p><ul>{ask}</ul>"
        if unclear
        else ""
    )
    rows = "".join(
        f"<tr><td>{_e(d['status'])}</td><td>{_e(d['by'])}</td><td>{_e(d['value'] if d['value'] is not None else '')}"
        f'</td><td class="num">{d["rows"]:,}</td></tr>'
        for d in c["decided_by"]
    )
    return (
        f"<h2>Who decided each status</h2><section>{stop}<table><tr><th>status</th><th>decided by</th>"
        f'<th>value</th><th>rows</th></tr>{rows}</table><p class="muted">When signals disagree the most '
        "restrictive wins (cleaned &gt; unsubscribed &gt; no consent &gt; pending &gt; subscribed).</p></section>"
    )


def detection_note(det: dict[str, Any] | None) -> str:
    """What detection decided, for the platform line: `` (detected, confidence 87%)``, or for the generic
    fallback its own message (`` (no preset above 50%; closest: kit 31%, ghost 22% — pick one with --preset
    NAME)``) — never a confidence for `generic` itself. Empty when the user chose the preset."""
    if not det:
        return ""
    if det.get("message"):
        return f" ({det['message']})"
    return f" (detected, confidence {det['confidence']:.0%})"


def render_html(doc: dict[str, Any]) -> str:
    t, p = doc["totals"], doc["plan"]
    status = [(k, float(v), _BAR_COLORS.get(k, "#667085")) for k, v in doc["by_status"].items()]
    fill = [(k, float(v), "#2e90fa") for k, v in doc["fill_rates"].items()]
    det_line = detection_note(doc.get("detection"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Validation report — {_e(doc["platform_title"])}</title><style>{_CSS}</style></head>
<body><main>
<h1>Validation report</h1>
<p class="muted">{_e(doc["platform_title"])} · preset <code>{_e(doc["platform"])}</code>{_e(det_line)} ·
generated {_e(doc["generated_at"])} · bme-migrate {_e(doc["version"])} · nothing was sent to Benchmark</p>
<div class="cards">{_card("rows read", t["rows_read"])}{_card("valid contacts", t["valid"], "ok")}
{_card("rejected rows", t["rejected"], "bad" if t["rejected"] else "")}
{_card("duplicate rows merged", t["merged_duplicate"])}
{_card("API requests (estimate)", p["requests"])}{_card("hours (estimate)", f"{p['hours']:.2f}")}</div>
<h2>Consent status of valid contacts</h2><section>{_bars(status)}
<p class="muted">Subscribed, unsubscribed and cleaned contacts are migrated (the last two as Inactive);
pending and no-consent contacts are skipped by default.</p></section>
{_consent(doc)}
<h2>How complete are the fields?</h2><section>{_bars(fill, unit="%", max_value=1.0)}</section>
{_mapping(doc)}
<h2>Top problems</h2>{_problems(doc)}
<h2>Field problems</h2>{_field_problems(doc)}
<h2>Duplicates</h2>{_duplicates(doc)}
<h2>Files read</h2>{_files(doc)}
<h2>Plan</h2><section><p>About <b>{p["requests"]:,}</b> API requests (≈ {p["hours"]:.2f} hours):
{p["contacts_to_create"]:,} contacts to create, {p["dedup_searches"]:,} duplicate searches,
{p["setup_requests"]:,} setup requests; {p["skipped_by_status"]:,} contacts skipped by status.</p>
<ul>{"".join(f"<li>{_e(a)}</li>" for a in p["assumptions"])}</ul></section>
</main></body></html>
"""
