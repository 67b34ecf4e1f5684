"""The legacy extraction's snapshot: cursor and fetched pages in SQLite, written together.

One row per extraction (keyed by a fingerprint the caller computes) holds the cursor, the totals seen and
``done``; each fetched page is one JSON row. A page and the cursor move in one transaction, so after a
kill the snapshot is either before or after a page, never in between. The token is never written here.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from etl.errors import ConfigError

SCHEMA_VERSION = 1


class Snapshot:
    """The extraction snapshot: cursor and pages of one fingerprint, written together in one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"{path} was written by a newer bme-migrate; upgrade or use another state dir"
                )
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS extractions (fingerprint TEXT PRIMARY KEY, source TEXT NOT NULL,"
                " status_filter TEXT, next_offset INTEGER NOT NULL, first_total INTEGER, total INTEGER,"
                " done INTEGER NOT NULL);"
                "CREATE TABLE IF NOT EXISTS pages (fingerprint TEXT NOT NULL, offset INTEGER NOT NULL,"
                " records TEXT NOT NULL, PRIMARY KEY (fingerprint, offset));"
                f"PRAGMA user_version = {SCHEMA_VERSION};"
            )
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ConfigError(
                f"{path} is not a usable legacy snapshot ({exc}); move it away to start over"
            ) from None
        except ConfigError:
            self._db.close()
            raise

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def load(self, fp: str) -> tuple[int, int | None, int | None, bool] | None:
        """(next offset, first total seen, last total seen, done) or None when never started."""
        row = self._db.execute(
            "SELECT next_offset, first_total, total, done FROM extractions WHERE fingerprint = ?", (fp,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], bool(row[3]))

    def start(self, fp: str, source: str, status: str | None) -> None:
        self._db.execute("INSERT INTO extractions VALUES (?, ?, ?, 0, NULL, NULL, 0)", (fp, source, status))

    def reset(self, fp: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM pages WHERE fingerprint = ?", (fp,))
            self._db.execute("DELETE FROM extractions WHERE fingerprint = ?", (fp,))

    def save_page(
        self,
        fp: str,
        offset: int,
        items: list[dict[str, Any]],
        next_offset: int,
        first_total: int | None,
        total: int | None,
        done: bool,
    ) -> None:
        with self._tx():
            if items:
                self._db.execute(
                    "INSERT OR REPLACE INTO pages VALUES (?, ?, ?)",
                    (fp, offset, json.dumps(items, ensure_ascii=False, separators=(",", ":"))),
                )
            self._db.execute(
                "UPDATE extractions SET next_offset = ?, first_total = ?, total = ?, done = ?"
                " WHERE fingerprint = ?",
                (next_offset, first_total, total, int(done), fp),
            )

    def page_count(self, fp: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM pages WHERE fingerprint = ?", (fp,)).fetchone()[0])

    def pages(self, fp: str) -> list[tuple[int, list[dict[str, Any]]]]:
        rows = self._db.execute(
            "SELECT offset, records FROM pages WHERE fingerprint = ? ORDER BY offset", (fp,)
        ).fetchall()
        return [(offset, json.loads(text)) for offset, text in rows]

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
