"""Tell someone when a run ends: ``--notify URL`` POSTs a small JSON summary, ``--notify-command CMD`` runs
a command with the same JSON on stdin.

The document (docs/events.md, "Notifications") has a top-level ``text`` — one readable sentence, which is
all a Slack or Teams incoming webhook needs — and the facts a script wants: ``state`` (complete, paused,
failed, stopped), ``run_id``, ``counts`` (rows by outcome), ``requests``, ``resume_after``,
``resume_command``, ``reason``, ``report`` and ``verify``. It is built from named fields only, so the API
key (never a flag, never in the resume command) cannot be in it.

A notification is a courtesy: a receiver that is down, slow (10 s timeout) or answers an error, or a
command that fails, is logged (a warning on stderr and a ``notify_failed`` event) and never changes the
run's exit code. The webhook URL usually embeds a secret of its own, so messages name only its host.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from etl.commands.summary import OUTCOMES, Summary
from etl.errors import ConfigError
from etl.events import NOTIFIED, NOTIFY_FAILED, EventSink

TIMEOUT = 10.0  # seconds for the POST, and 6× that for the command
STATES = ("complete", "paused", "failed", "stopped")


@dataclass(frozen=True)
class Notifier:
    url: str | None = None
    command: str | None = None
    timeout: float = TIMEOUT

    @classmethod
    def from_flags(cls, url: str | None, command: str | None) -> Notifier:
        """Checked before any work: a typo in the URL is a usage error now, not a silent miss in six hours."""
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError("--notify needs an http(s):// URL, e.g. https://hooks.slack.com/services/…")
        if command is not None and not command.strip():
            raise ConfigError("--notify-command needs a command; an empty one was given")
        return cls(url, command)

    def __bool__(self) -> bool:
        return self.url is not None or self.command is not None

    def send(self, doc: dict[str, Any], events: EventSink) -> list[str]:
        """Deliver ``doc`` to every configured receiver; the failures, one line each (also as events)."""
        failures: list[str] = []
        body = json.dumps(doc, ensure_ascii=False)
        if self.url is not None:
            host = urlsplit(self.url).hostname
            try:
                with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as http:
                    response = http.post(
                        self.url, content=body.encode("utf-8"), headers={"Content-Type": "application/json"}
                    )
                if response.is_success:
                    events.emit(NOTIFIED, via="url", host=host, status=response.status_code)
                else:
                    failures.append(f"--notify: {host} answered HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                failures.append(f"--notify: could not reach {host} ({type(exc).__name__})")
        if self.command is not None:
            try:
                # the operator's own command, run by the shell so it may pipe; the JSON goes on stdin only
                done = subprocess.run(
                    self.command,
                    shell=True,
                    input=body.encode("utf-8"),
                    capture_output=True,
                    timeout=self.timeout * 6,
                    check=False,
                )
                if done.returncode == 0:
                    events.emit(NOTIFIED, via="command")
                else:
                    err = done.stderr.decode("utf-8", "replace").strip().splitlines()
                    why = f": {err[-1][:200]}" if err else ""
                    failures.append(f"--notify-command exited {done.returncode}{why}")
            except subprocess.TimeoutExpired:
                failures.append(f"--notify-command did not finish within {self.timeout * 6:.0f}s")
            except OSError as exc:
                failures.append(f"--notify-command could not start ({exc.strerror or exc})")
        for failure in failures:
            events.emit(NOTIFY_FAILED, error=failure)
        return failures


def document(
    state: str,
    *,
    summary: Summary | None = None,
    run_id: str | None = None,
    error: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The notification for a run that ended in ``state`` (one of ``STATES``), from its summary block."""
    at = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    run = summary.run_id if summary is not None else run_id
    doc: dict[str, Any] = {
        "text": "",
        "tool": "bme-migrate",
        "state": state,
        "run_id": run,
        "counts": None,
        "requests": None,
        "resume_after": None,
        "resume_command": None,
        "reason": error,
        "report": None,
        "verify": None,
        "at": at.isoformat(timespec="seconds"),
    }
    if summary is not None:
        rows = {"rows_read": summary.rows.get("read", 0), **summary.rows}  # its payload keeps rows_read
        doc["counts"] = {
            k: int(rows.get(k, 0) or 0) for k in ("rows_read", *OUTCOMES, "pending") if k in rows
        }
        doc["requests"] = summary.requests_total
        doc["resume_after"] = summary.resume_after
        doc["resume_command"] = summary.resume_command if state == "paused" else None
        doc["reason"] = summary.pause_reason or error
        doc["report"] = summary.reports.split(" (", 1)[0] if summary.reports != "none" else None
        doc["verify"] = summary.verify
    doc["text"] = _text(doc)
    return doc


def _text(doc: dict[str, Any]) -> str:
    run = f"run {doc['run_id']}" if doc["run_id"] else "a run"
    words = [f"bme-migrate: {run} {doc['state'].upper()}"]
    if doc["reason"]:
        words[0] += f" ({doc['reason']})"
    counts = doc["counts"] or {}
    if counts:
        shown = ", ".join(f"{k} {v:,}" for k, v in counts.items() if k != "rows_read" and v)
        words.append(f"{counts.get('rows_read', 0):,} rows: {shown or 'nothing to do'}")
    if doc["resume_after"]:
        words.append(f"resumes after {doc['resume_after']} UTC")
    if doc["resume_command"]:
        words.append(f"resume with: {doc['resume_command']}")
    if doc["verify"] and doc["state"] == "complete":
        words.append(f"verify: {doc['verify']}")
    if doc["report"]:
        words.append(f"report: {doc['report']}")
    return ". ".join(words)
