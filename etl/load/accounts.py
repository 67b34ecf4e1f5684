"""What a state dir learned about each target account's export: ``<state dir>/accounts.json``.

The export is probed once (``etl.load.index``); its verdict is kept per account — base URL + structure id
— so the next run does not spend a request (or a long timeout) on a probe known to fail, and says why it
skipped it. A plain JSON file written whole (``etl.atomic``), not the ledger: it is advice, not a record
of what was written, and losing it costs one probe. ``--index-strategy export`` probes again.

A failed verdict expires, because a migration runs for months and one bad afternoon must not make every
later run pay for paging: a *transient* failure (no answer in time, a 5xx, an answer cut short) is retried
after a day, a *structural* one (404, a refused body, a missing column, not CSV) after a week. A usable
verdict never expires: the columns are learned again from every export, so a changed one simply fails
and is remembered as failed. An entry without a readable ``at`` (written by hand, or by an older tool)
is treated as expired: retrying costs one probe, while treating it as fresh could cost a week of paging.
An entry with ``at`` but no ``kind`` (written before verdicts expired) gets the shorter, transient wait.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.atomic import write_text_atomically
from etl.errors import RetriableLoadError
from etl.load.export_read import ExportDoubt

FILE = "accounts.json"
TRANSIENT = "transient"
STRUCTURAL = "structural"
DAY = 86400.0
RETRY_AFTER = {TRANSIENT: 1 * DAY, STRUCTURAL: 7 * DAY}  # seconds a failed verdict holds, by kind
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Verdict:
    usable: bool
    reason: str  # why not (or what the columns were, when usable)
    at: str  # ISO-8601 UTC of the probe, from the run's injected clock
    kind: str = ""  # of a failure: TRANSIENT or STRUCTURAL (when it is retried); "": not said, transient

    def retry_after(self) -> float | None:
        """Unix time from which a failed verdict no longer holds (None: usable, or ``at`` unreadable)."""
        if self.usable:
            return None
        made = parse_iso(self.at)
        return None if made is None else made + RETRY_AFTER.get(self.kind, RETRY_AFTER[TRANSIENT])

    def holds(self, now: float) -> bool:
        """Does this verdict still tell ``auto`` to skip the export at ``now``?"""
        until = self.retry_after()
        return until is not None and now < until


def parse_iso(text: str) -> float | None:
    try:
        return datetime.strptime(text, ISO).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def failure_kind(exc: Exception) -> str:
    """A failed export → TRANSIENT (the afternoon: timeout, no answer, 5xx, a cut-short answer) or
    STRUCTURAL (the account or the endpoint: 404, 400, 403, missing columns, not CSV)."""
    if isinstance(exc, ExportDoubt):
        return TRANSIENT if exc.transient else STRUCTURAL
    return TRANSIENT if isinstance(exc, RetriableLoadError) else STRUCTURAL


class AccountNotes:
    """The verdicts of one state dir; ``path`` need not exist yet. ``readonly`` (the dry run, which writes
    nothing into the state dir) reads verdicts and forgets what it learns."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.path = Path(state_dir) / FILE
        self.readonly = readonly

    @staticmethod
    def account(base_url: str, structure_id: str) -> str:
        return f"{base_url.rstrip('/')}|{structure_id}"

    def _read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # absent or unreadable: as if nothing were known, the probe is cheap to repeat
        return doc if isinstance(doc, dict) else {}

    def export_verdict(self, account: str) -> Verdict | None:
        entry = self._read().get(account)
        raw = entry.get("export") if isinstance(entry, dict) else None
        if not isinstance(raw, dict) or not isinstance(raw.get("usable"), bool):
            return None
        return Verdict(
            raw["usable"], str(raw.get("reason") or ""), str(raw.get("at") or ""), str(raw.get("kind") or "")
        )

    def remember_export(self, account: str, verdict: Verdict) -> None:
        if self.readonly:
            return
        doc = self._read()
        found = doc.get(account)
        entry: dict[str, Any] = found if isinstance(found, dict) else {}
        entry["export"] = {"usable": verdict.usable, "reason": verdict.reason, "at": verdict.at}
        if verdict.kind:
            entry["export"]["kind"] = verdict.kind
        doc[account] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
