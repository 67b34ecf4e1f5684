"""SQLite persistence of the sandbox: structures, lists, contacts, list membership and the rate counters.

Sized for a million contacts: key look-ups go through ``(structure_id, key)`` / ``(structure_id, key_lower)``
indexes (one per case rule, so either knob setting is a seek), list membership and field values live in
``WITHOUT ROWID`` tables keyed for ``LIST_ID`` / ``FIELD_ID`` criteria, and search order
``(createdAt, _id)`` has its own index. One connection serves every thread; callers hold ``lock`` around
each request so a read never sees half a write. File databases use WAL with ``synchronous=OFF``: every
commit survives the process (a restart, a kill -9) but not a power cut, which is the right trade for a test
double; it keeps checkpoints from stalling a request behind an fsync of a large file.

The store knows no HTTP and no policy: it never decides what is valid, only stores and finds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from etl.errors import ConfigError
from etl.sandbox import search_sql
from etl.sandbox.rows import ContactRow, IdFactory, ListRow, StructureRow, iso
from etl.sandbox.search_sql import Query, chunks, marks

__all__ = ["ContactRow", "IdFactory", "ListRow", "Store", "StructureRow", "iso"]

SCHEMA_VERSION = 1
CACHE_KIB = 65_536  # 64 MB of page cache: the key indexes of a million contacts stay hot
MMAP_BYTES = 1 << 30  # read pages straight from the OS cache instead of copying them

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS structures(
    id TEXT PRIMARY KEY, label TEXT NOT NULL, key_name TEXT NOT NULL, key_type TEXT NOT NULL,
    fields TEXT NOT NULL, tags TEXT NOT NULL, v INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lists(
    id TEXT PRIMARY KEY, structure_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    v INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lists_by_structure ON lists(structure_id, created_at, id);
CREATE TABLE IF NOT EXISTS contacts(
    id TEXT PRIMARY KEY, structure_id TEXT NOT NULL, key TEXT NOT NULL, key_lower TEXT NOT NULL,
    fields TEXT NOT NULL, tags TEXT NOT NULL, status TEXT NOT NULL, secondary TEXT,
    v INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_by_key ON contacts(structure_id, key);
CREATE INDEX IF NOT EXISTS contacts_by_key_lower ON contacts(structure_id, key_lower);
CREATE INDEX IF NOT EXISTS contacts_by_order ON contacts(structure_id, created_at, id);
CREATE TABLE IF NOT EXISTS contact_lists(
    list_id TEXT NOT NULL, contact_id TEXT NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY(list_id, contact_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contact_lists_by_contact ON contact_lists(contact_id, pos);
CREATE TABLE IF NOT EXISTS contact_fields(
    field_id TEXT NOT NULL, value TEXT NOT NULL, contact_id TEXT NOT NULL,
    PRIMARY KEY(field_id, value, contact_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rate_counters(name TEXT PRIMARY KEY, period REAL NOT NULL, used INTEGER NOT NULL);
"""


_CONTACT_COLS = "id, structure_id, key, fields, tags, status, secondary, v, created_at, updated_at"
_LIST_COLS = "id, structure_id, name, type, v, created_at, updated_at"


_INSERT_CONTACT = (
    "INSERT INTO contacts(id, structure_id, key, key_lower, fields, tags, status, secondary, v, "
    "created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_MEMBERSHIP = "INSERT OR IGNORE INTO contact_lists VALUES(?,?,?)"
_INSERT_FIELD_VALUE = "INSERT OR IGNORE INTO contact_fields VALUES(?,?,?)"


def _contact_params(c: ContactRow) -> tuple[Any, ...]:
    """One ``contacts`` row for ``_INSERT_CONTACT``: the API path and the bulk path write the same shape."""
    return (
        c.id,
        c.structure_id,
        c.key,
        c.key.lower(),
        json.dumps(c.fields),
        json.dumps(c.tags),
        c.status,
        c.secondary,
        c.v,
        c.created_at,
        c.updated_at,
    )


class Store:
    """All sandbox state. ``path`` is a file or ``":memory:"``; ``close()`` releases the file."""

    def __init__(self, path: str | Path = ":memory:", ids: IdFactory | None = None) -> None:
        self.path = str(path)
        self.ids = ids or IdFactory()
        self.lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=OFF")
                self._db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot open sandbox database {self.path}: {exc}") from None
        if row is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise ConfigError(
                f"sandbox database {self.path} has schema version {row[0]}, expected "
                f"{SCHEMA_VERSION}: delete it or use another --db"
            )

    def close(self) -> None:
        with self.lock:
            self._db.close()

    # --- structures -------------------------------------------------------------------------------------
    def ensure_default_structure(self, now: float) -> None:
        """A fresh account has one structure with the predefined name fields (as Benchmark's does)."""
        with self.lock:
            if self._db.execute("SELECT 1 FROM structures LIMIT 1").fetchone():
                return
            fields = [
                {
                    "_id": self.ids.new(now),
                    "label": "First Name",
                    "dataType": "text",
                    "required": False,
                    "predefinedField": "firstName",
                },
                {
                    "_id": self.ids.new(now),
                    "label": "Last Name",
                    "dataType": "text",
                    "required": False,
                    "predefinedField": "lastName",
                },
            ]
            with self._db:
                self._db.execute(
                    "INSERT INTO structures VALUES(?,?,?,?,?,?,?,?)",
                    (
                        self.ids.new(now),
                        "Default Contacts",
                        "Email",
                        "email",
                        json.dumps(fields),
                        "[]",
                        0,
                        iso(now),
                    ),
                )

    def structures(self) -> list[StructureRow]:
        rows = self._db.execute(
            "SELECT id, label, key_name, key_type, fields, tags, v, created_at FROM structures "
            "ORDER BY created_at, id"
        ).fetchall()
        return [self._structure(r) for r in rows]

    def structure(self, structure_id: str) -> StructureRow | None:
        r = self._db.execute(
            "SELECT id, label, key_name, key_type, fields, tags, v, created_at FROM structures WHERE id=?",
            (structure_id,),
        ).fetchone()
        return self._structure(r) if r else None

    @staticmethod
    def _structure(r: Sequence[Any]) -> StructureRow:
        return StructureRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6], r[7])

    def replace_structure(self, s: StructureRow, removed_field_ids: Iterable[str]) -> None:
        """Contacts keep values of removed fields in their JSON but reads filter them out; the search index
        drops them now so a later field can never match stale values."""
        with self._db:
            self._db.execute(
                "UPDATE structures SET label=?, key_name=?, key_type=?, fields=?, tags=?, v=? WHERE id=?",
                (s.label, s.key_name, s.key_type, json.dumps(s.fields), json.dumps(s.tags), s.v, s.id),
            )
            for fid in removed_field_ids:
                self._db.execute("DELETE FROM contact_fields WHERE field_id=?", (fid,))

    # --- lists --------------------------------------------------------------------------------------------
    def create_list(self, structure_id: str, name: str, now: float) -> ListRow:
        row = ListRow(self.ids.new(now), structure_id, name, "static", 0, iso(now), iso(now))
        with self._db:
            self._db.execute(
                f"INSERT INTO lists({_LIST_COLS}) VALUES(?,?,?,?,?,?,?)",
                (row.id, row.structure_id, row.name, row.type, row.v, row.created_at, row.updated_at),
            )
        return row

    def get_list(self, structure_id: str, list_id: str) -> ListRow | None:
        r = self._db.execute(
            f"SELECT {_LIST_COLS} FROM lists WHERE id=? AND structure_id=?", (list_id, structure_id)
        ).fetchone()
        return self._with_totals([ListRow(*r)])[0] if r else None

    def all_lists(self, structure_id: str) -> list[ListRow]:
        rows = self._db.execute(
            f"SELECT {_LIST_COLS} FROM lists WHERE structure_id=? ORDER BY created_at, id", (structure_id,)
        ).fetchall()
        return [ListRow(*r) for r in rows]

    def page_lists(
        self, structure_id: str, *, page: int, size: int, sort: str, descending: bool, criteria: str | None
    ) -> tuple[int, list[ListRow]]:
        """``sort`` is a validated column name (name, created_at, updated_at); ``criteria`` matches names."""
        where, args = "structure_id=?", [structure_id]
        if criteria:
            where += " AND instr(lower(name), ?) > 0"
            args.append(criteria.lower())
        total = self._db.execute(f"SELECT count(*) FROM lists WHERE {where}", args).fetchone()[0]
        direction = "DESC" if descending else "ASC"
        rows = self._db.execute(
            f"SELECT {_LIST_COLS} FROM lists WHERE {where} ORDER BY {sort} {direction}, id {direction} "
            "LIMIT ? OFFSET ?",
            [*args, size, (page - 1) * size],
        ).fetchall()
        return total, self._with_totals([ListRow(*r) for r in rows])

    def _with_totals(self, rows: list[ListRow]) -> list[ListRow]:
        for row in rows:
            row.total_contacts = self._db.execute(
                "SELECT count(*) FROM contact_lists WHERE list_id=?", (row.id,)
            ).fetchone()[0]
        return rows

    def update_list(self, row: ListRow) -> None:
        with self._db:
            self._db.execute(
                "UPDATE lists SET name=?, v=?, updated_at=? WHERE id=?",
                (row.name, row.v, row.updated_at, row.id),
            )

    def delete_lists(self, list_ids: Sequence[str]) -> None:
        with self._db:
            for chunk in chunks(list_ids):
                self._db.execute(f"DELETE FROM contact_lists WHERE list_id IN ({marks(len(chunk))})", chunk)
                self._db.execute(f"DELETE FROM lists WHERE id IN ({marks(len(chunk))})", chunk)

    def copy_members(self, source_ids: Sequence[str], target_id: str) -> None:
        """Put every member of the source lists into the target list (merge and duplicate)."""
        with self._db:
            for src in source_ids:
                self._db.execute(
                    "INSERT OR IGNORE INTO contact_lists(list_id, contact_id, pos) "
                    "SELECT ?, contact_id, 1000000 FROM contact_lists WHERE list_id=?",
                    (target_id, src),
                )

    # --- contacts -----------------------------------------------------------------------------------------
    def find_key(
        self, structure_id: str, key: str, *, insensitive: bool, exclude_id: str | None = None
    ) -> bool:
        column, value = ("key_lower", key.lower()) if insensitive else ("key", key)
        r = self._db.execute(
            f"SELECT id FROM contacts WHERE structure_id=? AND {column}=? AND id<>? LIMIT 1",
            (structure_id, value, exclude_id or ""),
        ).fetchone()
        return r is not None

    def insert_contact(self, c: ContactRow) -> None:
        with self._db:
            self._insert(c)

    def _insert(self, c: ContactRow) -> None:
        self._db.execute(_INSERT_CONTACT, _contact_params(c))
        self._db.executemany(_INSERT_MEMBERSHIP, [(lid, c.id, i) for i, lid in enumerate(c.lists)])
        self._db.executemany(_INSERT_FIELD_VALUE, [(fid, value, c.id) for fid, value in c.fields])

    def _remove_indexes(self, c: ContactRow) -> None:
        self._db.execute("DELETE FROM contact_lists WHERE contact_id=?", (c.id,))
        self._db.executemany(
            "DELETE FROM contact_fields WHERE field_id=? AND value=? AND contact_id=?",
            [(fid, value, c.id) for fid, value in c.fields],
        )

    def replace_contact(self, old: ContactRow, new: ContactRow) -> None:
        with self._db:
            self._remove_indexes(old)
            self._db.execute("DELETE FROM contacts WHERE id=?", (old.id,))
            self._insert(new)

    def delete_contact(self, c: ContactRow) -> None:
        with self._db:
            self._remove_indexes(c)
            self._db.execute("DELETE FROM contacts WHERE id=?", (c.id,))

    def get_contact(self, contact_id: str) -> ContactRow | None:
        rows = self.contacts_by_ids([contact_id])
        return rows[0] if rows else None

    def contacts_by_ids(self, ids: Sequence[str], *, with_lists: bool = True) -> list[ContactRow]:
        """Rows in the order of ``ids`` (missing ids are skipped), with their lists attached unless a search
        projection does not need them (``lists`` then stays empty)."""
        found: dict[str, ContactRow] = {}
        for chunk in chunks(ids):
            qs = marks(len(chunk))
            for r in self._db.execute(f"SELECT {_CONTACT_COLS} FROM contacts WHERE id IN ({qs})", chunk):
                found[r[0]] = ContactRow(
                    r[0],
                    r[1],
                    r[2],
                    [tuple(p) for p in json.loads(r[3])] if r[3] != "[]" else [],
                    [],
                    json.loads(r[4]) if r[4] != "[]" else [],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                )
            if not with_lists:
                continue
            for cid, lid in self._db.execute(
                f"SELECT contact_id, list_id FROM contact_lists WHERE contact_id IN ({qs}) "
                "ORDER BY contact_id, pos",
                chunk,
            ):
                found[cid].lists.append(lid)
        return [found[i] for i in ids if i in found]

    def structure_contact_ids(self, structure_id: str) -> list[str]:
        """Ids of one structure's contacts in search order ``(createdAt, _id)`` (the export reads them all)."""
        rows = self._db.execute(
            "SELECT id FROM contacts WHERE structure_id=? ORDER BY created_at, id", (structure_id,)
        )
        return [r[0] for r in rows]

    def all_contact_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM contacts ORDER BY created_at, id")]

    def count_contacts(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM contacts").fetchone()[0])

    # --- search -------------------------------------------------------------------------------------------
    def search(self, query: Query) -> tuple[int, list[str]]:
        """``(total, ids of one page)``, ordered ``createdAt, _id``: see ``search_sql.run``."""
        with self._db:
            return search_sql.run(self._db, query)

    # --- rate counters ------------------------------------------------------------------------------------
    def counter(self, name: str) -> tuple[float, int] | None:
        r = self._db.execute("SELECT period, used FROM rate_counters WHERE name=?", (name,)).fetchone()
        return (float(r[0]), int(r[1])) if r else None

    def set_counters(self, counters: Iterable[tuple[str, float, int]]) -> None:
        """Write ``(name, period, used)`` rows in one transaction (every request updates two)."""
        with self._db:
            self._db.executemany(
                "INSERT INTO rate_counters VALUES(?,?,?) ON CONFLICT(name) DO UPDATE SET "
                "period=excluded.period, used=excluded.used",
                list(counters),
            )

    # --- bulk (benchmarks and fixtures; not reachable over HTTP) ------------------------------------------
    def bulk_insert(self, rows: Iterable[ContactRow], chunk: int = 50_000) -> int:
        """Insert many contacts in ONE transaction with ``executemany`` per chunk: no validation, no duplicate
        check. Benchmarks and fixtures build large databases with it; it is not reachable over HTTP."""
        total = 0
        contacts: list[tuple[Any, ...]] = []
        memberships: list[tuple[str, str, int]] = []
        values: list[tuple[str, str, str]] = []

        def flush() -> None:
            self._db.executemany(_INSERT_CONTACT, contacts)
            self._db.executemany(_INSERT_MEMBERSHIP, memberships)
            self._db.executemany(_INSERT_FIELD_VALUE, values)
            contacts.clear()
            memberships.clear()
            values.clear()

        with self.lock, self._db:
            for c in rows:
                contacts.append(_contact_params(c))
                memberships.extend((lid, c.id, i) for i, lid in enumerate(c.lists))
                values.extend((fid, value, c.id) for fid, value in c.fields)
                total += 1
                if len(contacts) >= chunk:
                    flush()
            flush()
        return total
