"""What a state dir learned about each target account's export: ``<state dir>/accounts.json``.

The export is probed once (``etl.load.index``); its verdict is kept per account — base URL + structure id
— so the next run does not spend a request (or a long timeout) on a probe known to fail, and says why it
skipped it. A plain JSON file written whole (``etl.atomic``), not the ledger: it is advice, not a record
of what was written, and losing it costs one probe. ``--index-strategy export`` probes again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.atomic import write_text_atomically

FILE = "accounts.json"


@dataclass(frozen=True)
class Verdict:
    usable: bool
    reason: str  # why not (or what the columns were, when usable)
    at: str  # ISO-8601 UTC of the probe


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
        return Verdict(raw["usable"], str(raw.get("reason") or ""), str(raw.get("at") or ""))

    def remember_export(self, account: str, verdict: Verdict) -> None:
        if self.readonly:
            return
        doc = self._read()
        found = doc.get(account)
        entry: dict[str, Any] = found if isinstance(found, dict) else {}
        entry["export"] = {"usable": verdict.usable, "reason": verdict.reason, "at": verdict.at}
        doc[account] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
