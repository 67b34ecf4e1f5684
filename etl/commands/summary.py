"""The one block ``bme-migrate migrate`` ends with: what state the run is in, where every row went, what
this invocation spent, whether the read-back agreed, and where the reports are.

It is the part of the output people read and scripts grep, so its labels are stable: ``state:``,
``rows:``, ``requests:``, ``verify:``, ``reports:`` and, when paused, ``resume:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etl.verify.verifier import VerifyResult

OUTCOMES = ("created", "updated", "unchanged", "skipped", "rejected", "failed")


@dataclass(frozen=True)
class Summary:
    run_id: str
    state: str  # complete | already_complete | paused | dry_run | stopped (pause_reason: why)
    rows: Mapping[str, Any]  # report.json "rows": per source row
    requests_now: int | None  # None for a dry run (its reads are not ledgered)
    requests_total: int | None
    verify: str  # one phrase, e.g. "clean — 120 of 120 contacts checked"
    reports: str
    pause_reason: str | None = None
    resume_after: str | None = None
    resume_command: str | None = None
    verify_requests: int = 0  # the read-back's searches (not part of the run's ledgered count)
    field_problems: Mapping[str, Any] | None = None  # report.json "field_problems"
    contacts: Mapping[str, Any] | None = None  # report.json "contacts": per contact (a merged row is not one)


def verify_phrase(result: VerifyResult) -> str:
    checked = f"{result.checked:,} contacts checked" + (
        f" (a seeded sample of {result.plan.population:,})" if result.sampled else ""
    )
    if result.clean:
        spent = sum(result.requests.values())
        return f"clean — {checked}, {spent:,} request" + ("" if spent == 1 else "s")
    return f"MISMATCH — {len(result.mismatches):,} difference(s) among {checked}"


def _rows(t: Mapping[str, Any], *, stopped: bool = False) -> str:
    """``read = outcome + …``: the sum holds on every line, a run stopped before writing included (its
    valid rows are "not written", beside the rows it rejected)."""
    parts = " + ".join(f"{k} {int(t.get(k, 0) or 0):,}" for k in OUTCOMES)
    pending = int(t.get("pending", 0) or 0)
    read = int(t.get("read", 0) or 0)
    line = f"{read:,} read = {parts}"
    if pending:
        line += f" + pending {pending:,}"
    unwritten = read - pending - sum(int(t.get(k, 0) or 0) for k in OUTCOMES)
    if stopped and unwritten > 0:
        line += f" + not written {unwritten:,}"
    merged = int(t.get("merged_duplicate", 0) or 0)
    if merged:
        line += f" ({merged:,} duplicate row(s) merged into another row with the same email)"
    return line


CONTACT_OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")


def _contacts(c: Mapping[str, Any]) -> str:
    """Per contact, beside the rows' line: a duplicate row merged into another counts in ``rows`` with its
    person's outcome ("created 7") but is no second contact ("created 6")."""
    parts = " + ".join(f"{k} {int(c.get(k, 0) or 0):,}" for k in CONTACT_OUTCOMES)
    pending = int(c.get("pending", 0) or 0)
    total = sum(int(c.get(k, 0) or 0) for k in (*CONTACT_OUTCOMES, "pending"))
    line = f"{total:,} = {parts}"
    return line + (f" + pending {pending:,}" if pending else "")


def migration_lines(s: Summary) -> list[str]:
    state = {
        "complete": "complete",
        "already_complete": "already complete — nothing to send",
        "paused": f"PAUSED — {s.pause_reason}" if s.pause_reason else "PAUSED",
        "dry_run": "dry run — nothing was written",
        "stopped": f"STOPPED before writing — {s.pause_reason}" if s.pause_reason else "STOPPED",
    }[s.state]
    rows = _rows(
        s.rows, stopped=s.state == "stopped"
    )  # a dry run's rows are its plan's: the real run's line, word for word
    if s.state == "dry_run":
        requests = f"read-only; the migration itself needs {s.requests_total or 0:,} (bill above)"
    else:
        verify = f" (+{s.verify_requests:,} read-only to verify)" if s.verify_requests else ""
        requests = (
            f"{s.requests_now or 0:,} this time{verify}, {s.requests_total or 0:,} in total for this run"
        )
    lines = [
        f"── run {s.run_id} " + "─" * max(0, 60 - len(s.run_id)),
        f"state:     {state}",
        f"rows:      {rows}",
        *([f"contacts:  {_contacts(s.contacts)}"] if s.contacts else []),
        f"requests:  {requests}",
        f"verify:    {s.verify}",
        f"reports:   {s.reports}",
    ]
    fp = s.field_problems or {}
    if fp.get("cells"):  # rows that arrived (or would) without a value they held: say which, how many
        top = [f"{c['field']} {c['reason_code']} {c['cells']:,}" for c in fp.get("counts", [])]
        shown = ", ".join(top[:4]) + (", …" if len(top) > 4 else "")
        lines.insert(
            lines.index(f"requests:  {requests}"),
            f"fields:    {fp['cells']:,} value(s) left out of {fp['rows']:,} row(s), which still count "
            f"({shown}; listed in rejects.csv)",
        )
    if s.state == "paused":
        if s.resume_after:
            lines.append(f"resume:    resume after {s.resume_after} (UTC)")
            lines.append(f"           to resume, run: {s.resume_command}")
        else:
            lines.append(f"resume:    to resume, run: {s.resume_command}")
    return lines
