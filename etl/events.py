"""The run's event log: ``<state dir>/events.jsonl``, one JSON object a line, for monitors and people.

Why a file and not only the terminal: a migration of 50,000 contacts runs for hours under ``nohup``, in CI
or in a container whose stderr nobody watches. An append-only JSON-lines file in the state dir can be
followed with ``tail -f``, shipped by a log agent, or read by ``bme-migrate status --watch``.

Every line has ``event`` (the kind, see ``docs/events.md``), ``at`` (UTC, ISO 8601, from the injected
clock), ``run_id`` (null until the run id is known: extraction comes before it) and ``pid``; the rest
depends on the kind. Each line is written with one ``write`` call on a file opened in append mode and
flushed at once, so a reader never sees half a line from a live writer and a kill loses at most the line
being written.

The API key never reaches this file: a ``Secret`` value is refused (``TypeError``) instead of being
written, and string values are not inspected for keys because nothing the tool emits holds one — the
refusal guards against a future field carrying the ``Secret`` object itself.

Other code emits through ``EventSink.emit(kind, **fields)``; ``NO_EVENTS`` is the sink that drops
everything (library calls and tests that do not care).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from etl.clock import Clock, SystemClock
from etl.config import Secret

EVENTS_NAME = "events.jsonl"

# the kinds this tool writes (docs/events.md documents each and its fields)
START, LOAD_START, PROGRESS, PAUSE, FAIL, FINISH = (
    "start",
    "load_start",
    "progress",
    "pause",
    "fail",
    "finish",
)
QUOTA_WAIT, VERIFIED, NOTIFIED, NOTIFY_FAILED = "quota_wait", "verified", "notified", "notify_failed"
# emitted by the Benchmark client (etl.benchmark) through the sink it is given: a run of 5xx/network errors
OUTAGE_START, OUTAGE_END = "outage_start", "outage_end"
# the account was not read by export (why: an error, a missing column, …, or a verdict remembered)
INDEX_NOTE = "index_note"
TERMINAL = frozenset({PAUSE, FAIL, FINISH})  # a run's last event: a watcher stops on one of these


class EventSink(Protocol):
    """Where events go: ``emit("outage_start", status=503, endpoint="POST /api/contact")``."""

    def emit(self, kind: str, /, **fields: Any) -> None: ...


class _NoEvents:
    def emit(self, kind: str, /, **fields: Any) -> None:
        return None


NO_EVENTS: EventSink = _NoEvents()


def _refuse_secret(value: Any) -> Any:
    if isinstance(value, Secret):
        raise TypeError("a Secret must never be written to the event log")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def events_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / EVENTS_NAME


class EventLog:
    """Appends events to ``path``; ``bind(run_id)`` once the run id is known. Writing problems (a full
    disk, a read-only state dir) are remembered in ``error`` and stop the log, never the run: the ledger,
    not this file, is what a resume relies on."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or SystemClock()
        self.run_id: str | None = None
        self.last: str | None = None  # the kind of the last event emitted
        self.error: str | None = None
        self._fh: IO[str] | None = None

    @classmethod
    def for_state_dir(cls, state_dir: str | Path, clock: Clock | None = None) -> EventLog:
        return cls(events_path(state_dir), clock)

    def bind(self, run_id: str) -> None:
        self.run_id = run_id

    def emit(self, kind: str, /, **fields: Any) -> None:
        at = datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="seconds")
        doc = {"event": kind, "at": at, "run_id": self.run_id, "pid": os.getpid(), **fields}
        line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_refuse_secret) + "\n"
        self.last = kind
        if self.error is not None:
            return
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._fh.write(line)
            self._fh.flush()
        except OSError as exc:
            self.error = f"cannot write {self.path}: {exc.strerror or exc}"

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path, *, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The complete lines of ``path`` from byte ``offset`` on, and the offset after the last complete one
    (a line still being written is left for the next call). Unreadable lines are skipped."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out: list[dict[str, Any]] = []
    for raw in data[:end].splitlines():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out, offset + end


def tail_offset(path: Path, max_bytes: int = 1 << 20) -> int:
    """Where to start reading ``path`` for its latest events: the start of the first full line within its
    last ``max_bytes`` (the file only grows; old runs' events do not matter to a monitor)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size <= max_bytes:
        return 0
    with open(path, "rb") as fh:
        fh.seek(size - max_bytes)
        fh.readline()
        return fh.tell()
