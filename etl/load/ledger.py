"""The run ledger: what was planned, what was sent, what came back — the basis of exactly-once.

One SQLite file (WAL) per state dir, ``ledger.db``, holds every run; a run is identified by a fingerprint of
its sources' content, its mapping and its target, so running the same command again resumes the same run.
``ledger.run(run_id)`` is the view of one run (``RunLedger``): every per-run read and write goes through it.
The ledger also owns how a plan is stored (``plan_to_json``, ``plan_documents``, ``plan_from_json``).

Write protocol (the loader's side of exactly-once):

1. ``intent(key, op)`` is committed *before* a write request goes out (state ``in_flight``);
2. the outcome (``status_pending`` or ``done``) is committed with the next intents, in the same
   transaction, or before any other use of the ledger.

The loader commits the intents of its next creates together (``INTENT_BATCH`` in ``etl.load.loader``), so a
crash leaves at most that many contacts ``in_flight``; the loader resolves them by one batched search
before anything is re-sent. One commit per batch of contacts (a trigger settles a contact's rows in the
same statement) keeps the ledger's cost per contact far below a request's.
Request counts are written *before* each request goes out (``count_request``: one autocommit upsert, no
fsync in WAL with ``synchronous=NORMAL``), as intents are: a kill between the send and anything else cannot
lose one, so the ledger's total is never below the server's, and above it only by requests killed in flight.

A ledger that is not ours — a directory, random bytes, a truncated file, another application's SQLite file
— is refused at ``open`` with a ``ConfigError`` naming its path (never migrated into); a 0-byte file is a
new, empty ledger (SQLite's own reading of it). ``open(readonly=True)`` reads without writing anything
(``mode=ro``), so ``status`` works on a read-only state dir.

An exclusive ``fcntl`` lock on ``ledger.lock`` keeps two runs off one state dir. The API key is never
written here: runs store the base URL and structure id only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count, islice, repeat
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, runtime_checkable

import polars as pl

from etl.errors import ConfigError
from etl.model import PLAN_COLUMNS, Outcome, PlannedContact

LEDGER_NAME = "ledger.db"
T = TypeVar("T")
LOCK_NAME = "ledger.lock"

# Contact states.
PLANNED = "planned"
IN_FLIGHT = "in_flight"
STATUS_PENDING = "status_pending"
DONE = "done"


def _m1_initial(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'complete', 'failed')),
            base_url TEXT, structure_id TEXT, label TEXT,
            pause_reason TEXT, resume_after TEXT, resume_command TEXT);
        CREATE TABLE meta (run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT,
            PRIMARY KEY (run_id, name));
        CREATE TABLE contacts (
            run_id TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, payload_hash TEXT NOT NULL,
            plan TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'in_flight', 'status_pending', 'done')),
            op TEXT, prior_state TEXT, outcome TEXT, contact_id TEXT, ours INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
            PRIMARY KEY (run_id, key));
        CREATE TABLE rows (run_id TEXT NOT NULL, row_id INTEGER NOT NULL, key TEXT, outcome TEXT NOT NULL,
            reason TEXT, PRIMARY KEY (run_id, row_id));
        CREATE INDEX rows_key ON rows (run_id, key);
        CREATE TABLE requests (run_id TEXT NOT NULL, endpoint TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (run_id, endpoint));
        CREATE TABLE existing (run_id TEXT NOT NULL, lkey TEXT NOT NULL, doc TEXT NOT NULL,
            PRIMARY KEY (run_id, lkey));
        """,
    )


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Statement by statement: ``executescript`` would COMMIT the migration's transaction half-way."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _m2_rows_follow_contacts(db: sqlite3.Connection) -> None:
    """Rows settle with their contact inside the same statement, so a contact's commit is one write."""
    db.execute(
        "CREATE TRIGGER contacts_done AFTER UPDATE OF state ON contacts"
        " WHEN NEW.state = 'done' AND NEW.outcome IS NOT NULL BEGIN"
        " UPDATE rows SET outcome = NEW.outcome, reason = NEW.error"
        " WHERE run_id = NEW.run_id AND key = NEW.key AND outcome = 'pending'; END"
    )


def _m3_contacts_by_seq(db: sqlite3.Connection) -> None:
    """Contacts are read in plan order a chunk at a time (``iter_contacts``): each chunk is an index range."""
    db.execute("CREATE INDEX contacts_seq ON contacts (run_id, seq)")


def _m4_undo(db: sqlite3.Connection) -> None:
    """``bme-migrate undo``'s own write log, apart from the load's states (a load resume never sees it):
    one row per key and action, ``in_flight`` committed before its request, ``done`` after the answer."""
    db.execute(
        "CREATE TABLE undo (run_id TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,"
        " contact_id TEXT, state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')), result TEXT,"
        " attempts INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL, PRIMARY KEY (run_id, key, action))"
    )


def _m5_delta(db: sqlite3.Connection) -> None:
    """The cut-over delta: each written contact's ``__v`` after our last write (so an update of a contact
    nobody touched since is one PUT, no GET), and the changes a run made or met against its base."""
    _script(
        db,
        """
        ALTER TABLE contacts ADD COLUMN version INTEGER;
        CREATE TABLE changes (run_id TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
            field TEXT NOT NULL DEFAULT '', source TEXT, target TEXT, base TEXT,
            PRIMARY KEY (run_id, key, kind, field));
        """,
    )


def _m6_plan_chunks(db: sqlite3.Connection) -> None:
    """A plan's documents stored compressed a chunk at a time, beside slim contact rows: the ledger of a
    million-contact run was mostly plan text (one JSON document, its digest and one pending ``rows`` row per
    source row, per contact), and storing it was most of the time before the first write. A contact with
    ``rids`` (its source row ids, comma-joined) has no ``rows`` of its own: they follow from its state.
    Plans stored before this migration keep their ``plan`` text and their ``rows``; both readings coexist."""
    _script(
        db,
        """
        ALTER TABLE contacts ADD COLUMN rids TEXT;
        CREATE TABLE plan_chunks (run_id TEXT NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL,
            data BLOB NOT NULL, PRIMARY KEY (run_id, first_seq));
        """,
    )


MIGRATIONS: tuple[tuple[str, Callable[[sqlite3.Connection], None]], ...] = (
    ("0001_initial", _m1_initial),
    ("0002_rows_follow_contacts", _m2_rows_follow_contacts),
    ("0003_contacts_by_seq", _m3_contacts_by_seq),
    ("0004_undo", _m4_undo),
    ("0005_delta", _m5_delta),
    ("0006_plan_chunks", _m6_plan_chunks),
)
# outcomes that mean this state dir wrote the contact: its plan is the base of a later run's delta
WRITTEN = ("created", "updated")
DELTA_KINDS = ("updated", "conflict", "unsubscribed")
DELTA_SECTION = ("updated", "conflicts", "unsubscribed", "new", "gone_from_source")
# a slim contact's rows' outcome: its own once it is done (what the ``contacts_done`` trigger copies into
# ``rows`` for a plan stored the old way), pending until then
_ROW_OUTCOME = "CASE WHEN state = 'done' AND outcome IS NOT NULL THEN outcome ELSE 'pending' END"
CHUNK = 5_000  # contacts read at a time: memory holds a chunk of a run's plan, not the plan
# zlib level of a stored plan chunk: level 1 is several times faster than the default and the documents of
# one chunk (same field ids, statuses, list ids) compress well at any level
PLAN_LEVEL = 1
SETTLE_BATCH = 100  # settles waiting for a commit at most (a run with no writes still commits this often)


def fingerprint(*parts: str | bytes) -> str:
    """A short stable digest of the given parts (order matters)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _frame_parts(docs: pl.DataFrame, size: int) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """``plan_documents`` output as (keys, comma-joined row ids, documents), ``size`` contacts at a time."""
    rids = pl.col("row_ids").cast(pl.List(pl.String)).list.join(",")
    columns = docs.select("key", rids, "doc")
    for start in range(0, columns.height, size):
        part = columns.slice(start, size)
        yield part["key"].to_list(), part["row_ids"].to_list(), part["doc"].to_list()


def _plan_parts(
    plans: Iterable[PlannedContact] | PlanFrames, skip: int, size: int
) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """(keys, comma-joined row ids, documents) of the plan from position ``skip`` on, ``size`` at a time."""
    if isinstance(plans, PlanFrames):
        for frame in plans.plan_frames():
            if skip >= frame.height:
                skip -= frame.height
                continue
            yield from _frame_parts(plan_documents(frame.slice(skip)), size)
            skip = 0
        return
    for chunk in _batches(islice(plans, skip, None), size):
        yield (
            [p.key for p in chunk],
            [",".join(map(str, p.row_ids)) for p in chunk],
            [plan_to_json(p) for p in chunk],
        )


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def plan_to_json(plan: PlannedContact) -> str:
    return json.dumps(
        [
            plan.key,
            list(plan.row_ids),
            [list(f) for f in plan.fields],
            list(plan.lists),
            list(plan.tags),
            plan.status,
            plan.secondary,
        ],
        separators=(",", ":"),
    )


def plan_documents(frame: pl.DataFrame) -> pl.DataFrame:
    """A plan given as columns (``PLAN_COLUMNS``) as the ledger stores it, encoded by polars without one
    Python object per contact: per contact ``key``, ``row_ids`` and ``doc``, the JSON ``{"k": key, "r": row
    ids, "v": one value per field id of the run (null: empty, omitted from the request), "l": list ids,
    "t": tag ids, "s": status, "x": secondary status}``. ``plan_from_json`` reads it back."""
    key, row_ids, values, lists, tags, status, secondary = (pl.col(c) for c in PLAN_COLUMNS)
    doc = pl.struct(k=key, r=row_ids, v=values, l=lists, t=tags, s=status, x=secondary)
    return frame.select(key, row_ids, doc.struct.json_encode().alias("doc"))


def plan_from_json(text: str, field_ids: Sequence[str] = ()) -> PlannedContact:
    """A stored plan: a JSON array (``plan_to_json``) or a document (``plan_documents``), whose values
    stand for the run's ``field_ids`` in order (``Ledger`` keeps them per run)."""
    if text.startswith("["):
        key, row_ids, fields, lists, tags, status, secondary = json.loads(text)
        return PlannedContact(
            key=key,
            row_ids=tuple(row_ids),
            fields=tuple((a, b) for a, b in fields),
            lists=tuple(lists),
            tags=tuple(tags),
            status=status,
            secondary=secondary,
        )
    doc = json.loads(text)
    values = doc["v"]
    if len(values) != len(field_ids):
        raise ValueError("a stored plan and its run's field ids differ (a damaged ledger)")
    return PlannedContact(
        key=doc["k"],
        row_ids=tuple(doc["r"]),
        fields=tuple((f, v) for f, v in zip(field_ids, values, strict=True) if v is not None),
        lists=tuple(doc["l"]),
        tags=tuple(doc["t"]),
        status=doc["s"],
        secondary=doc["x"],
    )


# --- the state dir's files: refuse what is not ours, say what to do ----------------------------------------
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path} is not a bme-migrate ledger ({why}): move it aside or use another --state-dir"
    )


def check_ledger_file(path: Path) -> None:
    """Refuse, before SQLite sees it, a ledger path that cannot be ours: a directory, a file without the
    SQLite header, or one shorter than its header says (truncated). A missing or 0-byte file is a new ledger.
    """
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir():
        raise _refuse(path, "it is a directory")
    if not path.is_file():
        raise _refuse(path, "not a regular file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise ConfigError(
            f"cannot read ledger {path} ({exc.strerror or exc}): check its permissions or use another --state-dir"
        ) from None
    if size == 0:
        return
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise _refuse(path, "file is not a database")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    try:
        wal_size = path.with_name(path.name + "-wal").stat().st_size
    except OSError:
        wal_size = 0
    if wal_size:
        return  # a writer may be checkpointing (header first, file extended after): SQLite's reads will tell
    if head[24:28] == head[92:96] and pages and size < pages * page_size:  # the header's size is valid
        raise _refuse(path, f"file is truncated: {size:,} of {pages * page_size:,} bytes")


def _check_schema(db: sqlite3.Connection, path: Path) -> bool:
    """``True`` if the file holds our schema, ``False`` if it is empty (a new ledger); refuses another
    application's SQLite file (never migrated into) and one written by a newer bme-migrate."""
    try:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise
        raise _refuse(path, str(exc)) from None
    if not tables:
        return False
    if "_migrations" not in tables:
        shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
        raise _refuse(path, f"an SQLite file of another application, with tables {shown}")
    applied = {n for (n,) in db.execute("SELECT name FROM _migrations")}
    unknown = applied - {name for name, _ in MIGRATIONS}
    if unknown:
        raise ConfigError(
            f"{path} was written by a newer bme-migrate (schema {sorted(unknown)[-1]}): upgrade bme-migrate "
            "or use another --state-dir"
        )
    return "runs" in tables


@contextmanager
def ledger_errors(path: Path) -> Iterator[None]:
    """SQLite's errors about the ledger file as one line naming it (the CLI prints ``ConfigError``s)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise ConfigError(
            f"cannot use ledger {path} ({exc}): check the state dir's permissions and free space, "
            "or use another --state-dir"
        ) from None
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:  # integrity and programming errors are bugs: not hidden
            raise
        raise _refuse(path, str(exc)) from None


def _take_lock(sdir: Path) -> IO[str]:
    """The exclusive run lock, holding our pid (``lock_holder`` reads it)."""
    try:
        fh = open(sdir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the ledger's life
    except OSError as exc:
        raise ConfigError(
            f"cannot lock state dir {sdir} ({exc.strerror or exc}): use a writable --state-dir"
        ) from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise ConfigError(
            f"another bme-migrate run is using state dir {sdir}"
            + (f" (pid {holder})" if holder else "")
            + "; wait for it to finish or use another --state-dir"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def lock_holder(state_dir: str | Path) -> tuple[bool, str | None]:
    """(is the run lock held by a live process, the pid it wrote). The kernel drops a dead process's
    ``flock``, so a held lock means a live run; opened read-only, so this works on a read-only state dir."""
    try:
        fh = open(Path(state_dir) / LOCK_NAME, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return False, None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, fh.read().strip() or None
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False, fh.read().strip() or None


@runtime_checkable
class PlanFrames(Protocol):
    """A plan that hands itself over as columns (``etl.mapping.transform.PlannedContacts``): frames of
    ``PLAN_COLUMNS`` whose ``values`` stand for ``field_ids`` in order."""

    @property
    def field_ids(self) -> list[str]: ...

    def plan_frames(self) -> Iterator[pl.DataFrame]: ...


@dataclass(frozen=True)
class ContactRow:
    seq: int
    plan: PlannedContact
    state: str
    op: str | None
    outcome: str | None
    contact_id: str | None
    ours: bool
    attempts: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    state: str
    created_at: float
    updated_at: float
    base_url: str | None
    structure_id: str | None
    label: str | None
    pause_reason: str | None
    resume_after: str | None
    resume_command: str | None


class Ledger:
    """Open with ``Ledger.open(state_dir)``; close (or use as a context manager) to release the lock.

    The ledger file holds every run; what one run reads and writes goes through ``run(run_id)``, a view
    bound to that run, so no call can mix two runs' rows by passing the wrong id."""

    def __init__(
        self, db: sqlite3.Connection, lock: IO[str] | None, path: Path, *, chunk: int = CHUNK
    ) -> None:
        self._db = db
        self._lock = lock
        self.path = path
        self.chunk = chunk  # contacts stored and read at a time (``add_plan``, ``iter_contacts``)
        self._deferred: list[tuple[str, tuple[Any, ...]]] = []  # settles not yet written (see settle)
        self._field_ids: dict[str, list[str]] = {}  # run id → its plan's field ids (``plan_fields``)
        self._empty = False  # read-only and no schema: reads as a ledger with no runs
        self._chunk: tuple[str, int, list[str]] = ("", 0, [])  # the plan chunk read last (``stored_plan``)
        self._slim: bool | None = None  # the schema has ``contacts.rids`` (``slim``)

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, deferred settles written first: every other use of the ledger sees them."""
        if self._deferred:
            with self.tx():
                pass
        return self._db

    @classmethod
    def open(
        cls, state_dir: str | Path, *, lock: bool = True, readonly: bool = False, chunk: int = CHUNK
    ) -> Ledger:
        """The state dir's ledger, created if absent (unless ``readonly``: then nothing is written, no lock
        is taken, and a missing ledger reads as one with no runs). A file that is not a bme-migrate ledger
        is refused with a ``ConfigError`` naming it. ``chunk``: contacts held in memory at a time."""
        sdir = Path(state_dir)
        path = sdir / LEDGER_NAME
        check_ledger_file(path)
        if readonly:
            return cls._open_readonly(path, chunk)
        try:
            sdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot use state dir {sdir} ({exc.strerror or exc}): use another --state-dir"
            ) from None
        fh = _take_lock(sdir) if lock else None
        db: sqlite3.Connection | None = None
        try:
            with ledger_errors(path):
                db = sqlite3.connect(path, isolation_level=None, timeout=30)
                ledger = cls(db, fh, path, chunk=chunk)
                _check_schema(db, path)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process: what we face
                ledger._migrate()
        except BaseException:
            if db is not None:
                db.close()
            if fh is not None:
                fh.close()
            raise
        return ledger

    @classmethod
    def _open_readonly(cls, path: Path, chunk: int) -> Ledger:
        """``mode=ro``: no journal switch, no migration, no lock. A WAL ledger in a read-only dir whose
        ``-wal``/``-shm`` files are gone (it was closed cleanly) opens only as ``immutable``: then nobody can
        be writing it, since a writer would need those files."""
        if not path.exists() or path.stat().st_size == 0:
            db = sqlite3.connect(":memory:", isolation_level=None)
            ledger = cls(db, None, path, chunk=chunk)
            ledger._empty = True
            return ledger
        uri = path.resolve().as_uri()
        with ledger_errors(path):
            try:
                db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=30)
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
            ledger = cls(db, None, path, chunk=chunk)
            ledger._empty = not _check_schema(db, path)
        return ledger

    @property
    def empty(self) -> bool:
        """No run was ever recorded here (a read-only open of a missing or 0-byte ledger)."""
        return self._empty or not self.runs()

    def close(self) -> None:
        self.flush()
        self.db.close()
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        done = {r[0] for r in self.db.execute("SELECT name FROM _migrations")}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.tx():
                fn(self.db)
                self.db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction; deferred settles ride along, so they are never lost on a clean path."""
        deferred, self._deferred = self._deferred, []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in deferred:
                self._db.execute(*statement)
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._deferred = deferred + self._deferred  # not written: still owed
            raise

    def flush(self) -> None:
        """Write the deferred settles."""
        if self._deferred:
            with self.tx():
                pass

    @property
    def slim(self) -> bool:
        """The schema has migration 0006 (``contacts.rids``, ``plan_chunks``): only a read-only open of an
        older ledger lacks it, and that ledger's plans are all stored the old way."""
        if self._slim is None:
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(contacts)")}
            self._slim = "rids" in columns
        return self._slim

    def stored_plan(self, run_id: str, seq: int, text: str) -> str:
        """The plan document of contact ``seq`` of ``run_id``: ``text`` (its ``plan`` column) when the plan
        was stored before migration 0006, else read from its compressed chunk. Contacts are read in plan
        order, so the chunk read last is kept: one decompression per chunk, not per contact."""
        if text:
            return text
        cached_run, first, docs = self._chunk
        if cached_run != run_id or not first <= seq < first + len(docs):
            row = self.db.execute(
                "SELECT first_seq, data FROM plan_chunks WHERE run_id=? AND first_seq<=?"
                " ORDER BY first_seq DESC LIMIT 1",
                (run_id, seq),
            ).fetchone()
            if row is None:
                raise ValueError("a contact's plan is missing from the ledger (a damaged ledger)")
            first, docs = row[0], zlib.decompress(row[1]).decode("utf-8").split("\n")
            self._chunk = (run_id, first, docs)
            if seq >= first + len(docs):
                raise ValueError("a contact's plan is missing from the ledger (a damaged ledger)")
        return docs[seq - first]

    # --- the cut-over delta's bases ------------------------------------------------------------------
    def written(
        self,
        target: str | None,
        structure_id: str | None,
        *,
        exclude_run: str | None = None,
        started_by: float | None = None,
        with_plans: bool = True,
    ) -> Iterator[tuple[str, str, str, int | None]]:
        """(key, run id, plan, version) of every contact a run of ``target`` (its meta ``target``, else its
        base URL) and structure wrote (created or updated), latest run first; ``exclude_run`` and runs
        started after ``started_by`` left out. A read-only ledger from before migration 0005 has no
        ``version`` column: read as null. ``with_plans=False``: the plan is left empty (not decompressed)."""
        if self._empty:
            return iter(())
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(contacts)")}
        version = "c.version" if "version" in columns else "NULL"
        rows = self.db.execute(
            f"SELECT c.key, c.run_id, c.plan, {version}, c.seq FROM contacts c JOIN runs r ON r.run_id = c.run_id"
            " LEFT JOIN meta m ON m.run_id = c.run_id AND m.name = 'target'"
            " WHERE c.run_id IS NOT ? AND r.created_at <= ? AND COALESCE(m.value, r.base_url) IS ?"
            f" AND r.structure_id IS ? AND c.state = 'done' AND c.outcome IN ({','.join('?' * len(WRITTEN))})"
            " ORDER BY r.created_at DESC, c.run_id, c.seq",
            (
                exclude_run,
                float("inf") if started_by is None else started_by,
                target,
                structure_id,
                *WRITTEN,
            ),
        )
        if not with_plans:
            return ((key, run_id, plan, version) for key, run_id, plan, version, _ in rows)
        return (
            (key, run_id, self.stored_plan(run_id, seq, plan), version)
            for key, run_id, plan, version, seq in rows
        )

    def bases(
        self, rows: Iterable[tuple[str, str, str, int | None]]
    ) -> dict[str, tuple[PlannedContact, int | None]]:
        """key → (the plan of the latest run among ``rows`` (``written``) that wrote it, the ``__v`` our
        latest write of it left, or None): the base of the three-way merge. The plan stands for what was
        written; a field that run kept as a conflict is the one place where it says more than was written."""
        out: dict[str, tuple[PlannedContact, int | None]] = {}
        for key, run_id, plan, version in rows:
            if key not in out:
                out[key] = (plan_from_json(plan, self.run(run_id).plan_fields()), version)
            elif out[key][1] is None and version is not None:
                out[key] = (out[key][0], version)
        return out

    # --- runs --------------------------------------------------------------------------------------------
    def run(self, run_id: str) -> RunLedger:
        """The view of one run (recorded or not yet: ``RunLedger.info`` says which)."""
        return RunLedger(self, run_id)

    def runs(self) -> list[RunInfo]:
        if self._empty:
            return []
        rows = self.db.execute(
            "SELECT run_id, state, created_at, updated_at, base_url, structure_id, label, pause_reason,"
            " resume_after, resume_command FROM runs ORDER BY updated_at DESC"
        ).fetchall()
        return [RunInfo(*r) for r in rows]


class RunLedger:
    """One run's part of the ledger: everything a run records and reads, its id bound once.

    A view, not a copy: it holds no state of its own (deferred settles and the plan's field ids are kept
    by the ``Ledger``, shared by every view of the file), so two views of one run see the same ledger.
    """

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger = ledger
        self.run_id = run_id

    def flush(self) -> None:
        """Write the deferred settles (of every run: they share one transaction)."""
        self.ledger.flush()

    # --- the run itself -----------------------------------------------------------------------------------
    def start(
        self,
        *,
        base_url: str | None,
        structure_id: str | None,
        label: str | None = None,
        resume_command: str | None = None,
    ) -> RunInfo:
        """Record the run (or resume it: a complete run stays complete, any other goes back to running)."""
        now = time.time()
        with self.ledger.tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, created_at, updated_at, state, base_url, structure_id, label,"
                " resume_command) VALUES (?, ?, ?, 'running', ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET"
                " updated_at=excluded.updated_at,"
                " state=CASE WHEN runs.state='complete' THEN 'complete' ELSE 'running' END,"
                " resume_command=COALESCE(excluded.resume_command, runs.resume_command)",
                (self.run_id, now, now, base_url, structure_id, label, resume_command),
            )
        info = self.info()
        assert info is not None
        return info

    def info(self) -> RunInfo | None:
        """The run's record, or None if it was never started here."""
        if self.ledger._empty:
            return None
        row = self.ledger.db.execute(
            "SELECT run_id, state, created_at, updated_at, base_url, structure_id, label, pause_reason,"
            " resume_after, resume_command FROM runs WHERE run_id=?",
            (self.run_id,),
        ).fetchone()
        return RunInfo(*row) if row else None

    def set_state(self, state: str, *, reason: str | None = None, resume_after: str | None = None) -> None:
        with self.ledger.tx() as db:
            db.execute(
                "UPDATE runs SET state=?, pause_reason=?, resume_after=?, updated_at=? WHERE run_id=?",
                (state, reason, resume_after, time.time(), self.run_id),
            )

    # --- meta ----------------------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        row = self.ledger.db.execute(
            "SELECT value FROM meta WHERE run_id=? AND name=?", (self.run_id, name)
        ).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str | None) -> None:
        with self.ledger.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (self.run_id, name, value))

    # --- plan and contacts -----------------------------------------------------------------------------------
    def add_plan(self, plans: Iterable[PlannedContact] | PlanFrames) -> int:
        """Record the planned contacts once (all of them: ``store_plan`` a chunk at a time); a resumed run
        keeps what is there and stores only what a kill left unstored. Returns how many were new."""
        return sum(self.store_plan(plans))

    def plan_stored(self) -> bool:
        """Every contact of the run's plan is in the ledger (or none was ever stored)."""
        return self.get_meta("plan_todo") is None

    def store_plan(self, plans: Iterable[PlannedContact] | PlanFrames) -> Iterator[int]:
        """Store the plan a chunk (``Ledger.chunk`` contacts) per step, each chunk its own transaction,
        yielding how many it stored: the loader stores the next chunk when it has gone through those
        stored, so a million-contact run writes its first contact without waiting for the whole plan.

        Each contact gets a slim row (key, plan order, state, its source row ids in ``rids``); the
        documents are stored compressed a chunk at a time in ``plan_chunks`` (``stored_plan`` reads them
        back), and a contact's source rows are not written one by one: they follow from its state
        (``row_totals``). ``PlanFrames`` (the mapping stage's ``PlannedContacts``) are encoded by polars
        (``plan_documents``), with the run's field ids written beside them; other plans one by one.

        Kill-safe: the meta ``plan_todo`` (the plan position to store next) commits with each chunk and is
        removed with the last, so a resume (same run id: the same plan in the same order) stores from where
        the kill stopped. A plan stored before (``plan_todo`` absent, contacts present) is kept as it is.
        """
        run_id, db = self.run_id, self.ledger.db
        todo = self.get_meta("plan_todo")
        if todo is None and db.execute("SELECT 1 FROM contacts WHERE run_id=? LIMIT 1", (run_id,)).fetchone():
            return
        added = int(todo or 0)
        fields = json.dumps(plans.field_ids) if isinstance(plans, PlanFrames) else None
        size = str(len(plans)) if isinstance(plans, Sized) else None
        parts = _plan_parts(plans, added, self.ledger.chunk)
        part = next(parts, None)
        while part is not None:
            keys, rids, docs = part
            part = next(parts, None)  # the last chunk removes ``plan_todo``
            data = zlib.compress("\n".join(docs).encode("utf-8"), PLAN_LEVEL)
            with self.ledger.tx() as tx:
                if fields is not None:
                    tx.execute("INSERT OR REPLACE INTO meta VALUES (?, 'plan_fields', ?)", (run_id, fields))
                if size is not None:  # ``contact_totals`` counts the contacts not stored yet as pending
                    tx.execute("INSERT OR REPLACE INTO meta VALUES (?, 'plan_size', ?)", (run_id, size))
                tx.execute(
                    "INSERT OR REPLACE INTO plan_chunks VALUES (?, ?, ?, ?)", (run_id, added, len(docs), data)
                )
                tx.executemany(
                    "INSERT OR IGNORE INTO contacts (run_id, key, seq, payload_hash, plan, state, rids)"
                    " VALUES (?, ?, ?, '', '', 'planned', NULLIF(?, ''))",
                    zip(repeat(run_id), keys, count(added), rids),
                )
                added += len(docs)
                if part is None:
                    tx.execute("DELETE FROM meta WHERE run_id=? AND name='plan_todo'", (run_id,))
                else:
                    tx.execute("INSERT OR REPLACE INTO meta VALUES (?, 'plan_todo', ?)", (run_id, str(added)))
            self.ledger._field_ids.pop(run_id, None)
            yield len(docs)

    def plan_fields(self) -> list[str]:
        """The field ids the run's stored documents' values stand for (none for ``plan_to_json`` plans)."""
        cache = self.ledger._field_ids
        if self.run_id not in cache:
            saved = self.get_meta("plan_fields")
            cache[self.run_id] = json.loads(saved) if saved else []
        return cache[self.run_id]

    def keys(self) -> list[str]:
        """Every planned key of the run, in plan order."""
        return [
            k
            for (k,) in self.ledger.db.execute(
                "SELECT key FROM contacts WHERE run_id=? ORDER BY seq", (self.run_id,)
            )
        ]

    def record_rows(self, outcomes: Iterable[tuple[int, str | None, str, str | None]]) -> None:
        """Outcomes decided upstream (validate: rejected, merged_duplicate): (row_id, key, outcome, reason)."""
        with self.ledger.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO rows (run_id, row_id, key, outcome, reason) VALUES (?,?,?,?,?)",
                ((self.run_id, rid, key, outcome, reason) for rid, key, outcome, reason in outcomes),
            )

    def contacts(self, states: Sequence[str]) -> list[ContactRow]:
        """Every contact in one of ``states``, in plan order (for small sets: see ``iter_contacts``)."""
        return list(self.iter_contacts(states))

    def iter_contacts(
        self, states: Sequence[str], *, chunk: int | None = None, more: Iterator[int] | None = None
    ) -> Iterator[ContactRow]:
        """The contacts in one of ``states``, in plan order, read ``chunk`` (default ``Ledger.chunk``) at a
        time: a run of millions of contacts never holds its whole plan as objects. Each chunk is read when the previous
        one is used up, so a contact's state is the one it has then (the loader changes only contacts it
        has passed). ``more`` (``store_plan``): when the stored contacts are used up, store the next chunk
        of the plan and go on, until it is all stored.
        """
        marks = ",".join("?" * len(states))
        sql = (
            "SELECT seq, plan, state, op, outcome, contact_id, ours, attempts FROM contacts"
            f" WHERE run_id=? AND seq>? AND state IN ({marks}) ORDER BY seq LIMIT ?"
        )
        last, fields, chunk = -1, self.plan_fields(), chunk or self.ledger.chunk
        stored = self.ledger.stored_plan
        while True:
            rows = self.ledger.db.execute(sql, (self.run_id, last, *states, chunk)).fetchall()
            for seq, plan, state, op, outcome, cid, ours, attempts in rows:
                text = stored(self.run_id, seq, plan)
                yield ContactRow(
                    seq, plan_from_json(text, fields), state, op, outcome, cid, bool(ours), attempts
                )
            if rows:
                last = rows[-1][0]
            if len(rows) < chunk and (more is None or next(more, None) is None):
                return

    def count_contacts(self, states: Sequence[str]) -> int:
        marks = ",".join("?" * len(states))
        return int(
            self.ledger.db.execute(
                f"SELECT COUNT(*) FROM contacts WHERE run_id=? AND state IN ({marks})", (self.run_id, *states)
            ).fetchone()[0]
        )

    def intent(self, key: str, op: str, *, ours: bool = False) -> None:
        """Commit ``in_flight`` before the write request goes out (``ours``: this run created the contact)."""
        self.intents([key], op, ours=ours)

    def intents(self, keys: Sequence[str], op: str, *, ours: bool = False) -> None:
        """Commit ``in_flight`` for ``keys`` before their write requests go out, in one transaction with the
        settles deferred since the last commit.

        Durable when it returns (WAL). The loader commits its next creates so, a batch at a time: one commit
        per batch instead of two per contact; a kill leaves at most a batch in flight.
        """
        sql = (
            "UPDATE contacts SET prior_state=CASE WHEN state='in_flight' THEN prior_state ELSE state END,"
            " state='in_flight', op=?, attempts=attempts+1, ours=MAX(ours, ?) WHERE run_id=? AND key=?"
        )
        args = [(op, int(ours), self.run_id, key) for key in keys]
        if not self.ledger._deferred and len(args) == 1:
            self.ledger._db.execute(sql, args[0])  # one autocommit statement
            return
        with self.ledger.tx() as db:  # writes the deferred settles first
            db.executemany(sql, args)

    def revert_intent(self, key: str, *, ours: bool = False) -> None:
        """The write certainly did not happen (refused before it reached the account): undo ``intent``.

        ``ours``: an earlier write of this run created the contact (kept, so a resume counts it created).
        """
        with self.ledger.tx() as db:
            db.execute(
                "UPDATE contacts SET state=COALESCE(prior_state, 'planned'), op=NULL, attempts=attempts-1,"
                " ours=MAX(ours, ?) WHERE run_id=? AND key=? AND state='in_flight'",
                (int(ours), self.run_id, key),
            )

    def mark_ours(self, key: str) -> None:
        with self.ledger.tx() as db:
            db.execute("UPDATE contacts SET ours=1 WHERE run_id=? AND key=?", (self.run_id, key))

    def settle(
        self,
        key: str,
        *,
        state: str,
        outcome: str | None = None,
        contact_id: str | None = None,
        ours: bool | None = None,
        error: str | None = None,
        version: int | None = None,
    ) -> None:
        """Where a contact stands after a response; a ``done`` outcome also settles its rows (trigger).
        ``version``: the contact's ``__v`` in the answer to our last write of it.

        Written with the next ``intents`` (one commit for both), before any other use of the ledger, or
        once ``SETTLE_BATCH`` are waiting, whichever comes first. A kill before that leaves these contacts
        ``in_flight``, which a resume settles with one search, as it does for a kill between a request and
        its answer.
        """
        self.ledger._deferred.append(
            (
                "UPDATE contacts SET state=?, op=NULL, prior_state=NULL, outcome=COALESCE(?, outcome),"
                " contact_id=COALESCE(?, contact_id), ours=COALESCE(?, ours), error=?,"
                " version=COALESCE(?, version) WHERE run_id=? AND key=?",
                (
                    state,
                    outcome,
                    contact_id,
                    None if ours is None else int(ours),
                    error,
                    version,
                    self.run_id,
                    key,
                ),
            )
        )
        if len(self.ledger._deferred) >= SETTLE_BATCH:
            self.ledger.flush()

    # --- the cut-over delta ----------------------------------------------------------------------------
    def _earlier_written(self, *, with_plans: bool = True) -> Iterator[tuple[str, str, str, int | None]]:
        """(key, run id, plan, version) of every contact an earlier run (started before this one: a later
        ``verify`` of this run sees the same) of this target wrote, latest first.

        The target is the run's meta ``target`` (the load records it: the embedded sandbox's URL changes
        every invocation, its database does not), else its base URL; plus the structure id."""
        info = self.info()
        if info is None:
            return iter(())
        target = self.get_meta("target") or info.base_url
        return self.ledger.written(
            target,
            info.structure_id,
            exclude_run=self.run_id,
            started_by=info.created_at,
            with_plans=with_plans,
        )

    def bases(self) -> dict[str, tuple[PlannedContact, int | None]]:
        """The delta's bases for this run: ``Ledger.bases`` of the earlier runs of its target."""
        return self.ledger.bases(self._earlier_written())

    def record_changes(
        self, key: str, changes: Iterable[tuple[str, str, str | None, str | None, str | None]]
    ) -> None:
        """What the delta did or met for ``key``: (kind, field id or '', source, Benchmark, base) with kind in
        ``DELTA_KINDS``; a resume that decides the same key again replaces its rows."""
        with self.ledger.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((self.run_id, key, *change) for change in changes),
            )

    def changes_since_last_run(self, limit: int = 200) -> dict[str, Any] | None:
        """The "changes since last run" section: None when no earlier run of this target wrote anything.

        ``updated`` (keys whose fields the source changed), ``conflicts`` (field, source value, Benchmark
        value, base), ``unsubscribed`` (status applied), ``new`` (keys no earlier run wrote: created now),
        ``gone_from_source`` (keys an earlier run wrote that this export lacks: listed, never deleted).
        Each is ``{"count", "keys"|"items"}``, lists cut at ``limit``."""
        earlier = {key for key, *_ in self._earlier_written(with_plans=False)}
        if not earlier:
            return None
        db = self.ledger.db
        mine = self.keys()
        here = set(mine)
        created = [
            k
            for (k,) in db.execute(
                "SELECT key FROM contacts WHERE run_id=? AND state='done' AND outcome='created' ORDER BY seq",
                (self.run_id,),
            )
        ]

        def keys_of(kind: str) -> list[str]:
            return [
                k
                for (k,) in db.execute(
                    "SELECT DISTINCT key FROM changes WHERE run_id=? AND kind=? ORDER BY key",
                    (self.run_id, kind),
                )
            ]

        conflicts = [
            {"key": k, "field": f, "source": s, "benchmark": t, "base": b}
            for k, f, s, t, b in db.execute(
                "SELECT key, field, source, target, base FROM changes WHERE run_id=? AND kind='conflict'"
                " ORDER BY key, field",
                (self.run_id,),
            )
        ]
        new = [k for k in created if k not in earlier]
        gone = sorted(earlier - here)
        section: dict[str, Any] = {}
        for name, items in (
            ("updated", keys_of("updated")),
            ("unsubscribed", keys_of("unsubscribed")),
            ("new", new),
            ("gone_from_source", gone),
        ):
            section[name] = {"count": len(items), "keys": items[:limit]}
        section["conflicts"] = {"count": len(conflicts), "items": conflicts[:limit]}
        section["on_conflict"] = self.get_meta("on_conflict") or "target"
        return {name: section[name] for name in (*DELTA_SECTION, "on_conflict")}

    # --- dedup index -------------------------------------------------------------------------------------
    def save_existing(self, docs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        with self.ledger.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO existing VALUES (?, ?, ?)",
                ((self.run_id, lkey, json.dumps(doc, separators=(",", ":"))) for lkey, doc in docs),
            )

    def drop_existing(self, lkeys: Iterable[str]) -> None:
        with self.ledger.tx() as db:
            db.executemany(
                "DELETE FROM existing WHERE run_id=? AND lkey=?", ((self.run_id, k) for k in lkeys)
            )

    def existing(self) -> dict[str, dict[str, Any]]:
        return {
            lkey: json.loads(doc)
            for lkey, doc in self.ledger.db.execute(
                "SELECT lkey, doc FROM existing WHERE run_id=?", (self.run_id,)
            )
        }

    # --- undo (``etl.load.undo``): its own log, one row per (key, action) ---------------------------------
    def undo_intent(self, key: str, action: str, contact_id: str | None) -> None:
        """Commit ``in_flight`` for an undo action before its request goes out (one autocommit statement)."""
        self.ledger.flush()
        self.ledger._db.execute(
            "INSERT INTO undo (run_id, key, action, contact_id, state, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, 'in_flight', 1, ?) ON CONFLICT(run_id, key, action) DO UPDATE SET"
            " state='in_flight', contact_id=excluded.contact_id, attempts=undo.attempts+1,"
            " updated_at=excluded.updated_at",
            (self.run_id, key, action, contact_id, time.time()),
        )

    def undo_settle(self, key: str, action: str, result: str) -> None:
        """The action's answer came back (``result``: what happened, e.g. ``deleted``, ``already gone``)."""
        self.ledger.flush()
        self.ledger._db.execute(
            "UPDATE undo SET state='done', result=?, updated_at=? WHERE run_id=? AND key=? AND action=?",
            (result, time.time(), self.run_id, key, action),
        )

    def undo_revert(self, key: str, action: str) -> None:
        """The request was certainly not sent (``--max-requests``, quota): forget the intent."""
        self.ledger._db.execute(
            "DELETE FROM undo WHERE run_id=? AND key=? AND action=? AND state='in_flight' AND attempts=1",
            (self.run_id, key, action),
        )
        self.ledger._db.execute(
            "UPDATE undo SET attempts=attempts-1 WHERE run_id=? AND key=? AND action=? AND state='in_flight'",
            (self.run_id, key, action),
        )

    def undo_log(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(key, action) → (state, result) of every undo action recorded for the run."""
        if self.ledger._empty:
            return {}
        try:
            rows = self.ledger.db.execute(
                "SELECT key, action, state, result FROM undo WHERE run_id=?", (self.run_id,)
            ).fetchall()
        except sqlite3.OperationalError:  # a read-only ledger written before undo existed
            return {}
        return {(k, a): (s, r) for k, a, s, r in rows}

    # --- requests and totals ------------------------------------------------------------------------------
    def count_request(self, endpoint: str) -> None:
        """Count one request *before* it is sent: written at once (inside the open transaction, if any), so
        a kill after the send cannot lose it. Autocommit in WAL without fsync: far below a request's cost."""
        self.ledger._db.execute(
            "INSERT INTO requests VALUES (?, ?, 1) ON CONFLICT(run_id, endpoint) DO UPDATE SET count = count + 1",
            (self.run_id, endpoint),
        )

    def request_counts(self) -> dict[str, int]:
        if self.ledger._empty:
            return {}
        return dict(
            self.ledger.db.execute(
                "SELECT endpoint, count FROM requests WHERE run_id=?", (self.run_id,)
            ).fetchall()
        )

    def row_totals(self) -> dict[str, int]:
        """Source rows by outcome: those recorded in ``rows`` (upstream outcomes; every row of a plan stored
        before migration 0006) plus the rows of each slim contact, whose outcome is its contact's."""
        return self.tallies()[1]

    def contact_totals(self) -> dict[str, int]:
        """Contacts by outcome once done, the others (and a plan's part not stored yet) as ``pending``."""
        return self.tallies(rows=False)[0]

    def tallies(self, *, rows: bool = True) -> tuple[dict[str, int], dict[str, int]]:
        """(``contact_totals``, ``row_totals``) in one pass over the run's contacts: a million of them take
        a while, and a run event carries both. ``rows=False`` leaves the row totals empty and skips what
        only they need (counting each contact's row ids is half the pass: a resume's first write waits
        for the contact totals alone)."""
        db = self.ledger.db
        rows_of = (
            "SUM(CASE WHEN rids IS NULL THEN 0 ELSE LENGTH(rids) - LENGTH(REPLACE(rids, ',', '')) + 1 END)"
            if self.ledger.slim and rows
            else "0"
        )
        groups = db.execute(
            f"SELECT state = 'done', outcome, COUNT(*), {rows_of} FROM contacts WHERE run_id=? GROUP BY 1, 2",
            (self.run_id,),
        ).fetchall()
        contacts: Counter[str] = Counter()
        by_row: Counter[str] = Counter(
            dict(
                db.execute(
                    "SELECT outcome, COUNT(*) FROM rows WHERE run_id=? GROUP BY outcome", (self.run_id,)
                )
            )
            if rows
            else {}
        )
        for done, outcome, n, source_rows in groups:
            settled = bool(done) and outcome is not None  # as _ROW_OUTCOME: rows wait for an outcome
            contacts[(outcome or "done") if done else Outcome.PENDING.value] += n
            if source_rows:
                by_row[outcome if settled else Outcome.PENDING.value] += source_rows
        todo, size = self.get_meta("plan_todo"), self.get_meta("plan_size")
        if todo is not None and size is not None:  # the plan is being stored: the rest is pending too
            contacts[Outcome.PENDING.value] += max(0, int(size) - int(todo))
        contacts[Outcome.PENDING.value] += 0  # always present, as callers read it
        return dict(contacts), dict(by_row)

    def progress(self) -> tuple[int, int, dict[str, int]]:
        """``(done, total, settled contacts by outcome)``: what a progress line or an event says of the run."""
        totals = self.contact_totals()
        pending = totals.pop(Outcome.PENDING.value, 0)
        done = sum(totals.values())
        return done, done + pending, totals

    def failed_rows(self) -> list[tuple[int, str | None]]:
        """(row_id, reason) of the rows whose contact the target refused."""
        return [(rid, reason) for rid, _, _, reason in self.row_outcomes((Outcome.FAILED.value,))]

    def row_outcomes(
        self, outcomes: Sequence[str] | None = None
    ) -> list[tuple[int, str | None, str, str | None]]:
        """(row_id, key, outcome, reason) of every source row (only those with one of ``outcomes`` when
        given), by row id: the ``rows`` table's and those of the slim contacts (``row_totals``)."""
        db, run_id = self.ledger.db, self.run_id
        only = "" if outcomes is None else f" AND outcome IN ({','.join('?' * len(outcomes))})"
        out = db.execute(
            f"SELECT row_id, key, outcome, reason FROM rows WHERE run_id=?{only}", (run_id, *(outcomes or ()))
        ).fetchall()
        if self.ledger.slim:
            picked = "" if outcomes is None else f" AND {_ROW_OUTCOME} IN ({','.join('?' * len(outcomes))})"
            for rids, key, outcome, reason in db.execute(
                f"SELECT rids, key, {_ROW_OUTCOME}, CASE WHEN state = 'done' THEN error END FROM contacts WHERE run_id=? AND rids IS NOT NULL"
                + picked,
                (run_id, *(outcomes or ())),
            ):
                out.extend((int(rid), key, outcome, reason) for rid in rids.split(","))
        out.sort(key=lambda row: row[0])
        return out
