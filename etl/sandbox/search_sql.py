"""The SQL behind contact search: OR-ed groups of AND-ed ``EQ`` conditions, paged in ``(createdAt, _id)`` order.

Matching ids are collected in a temporary table, each group driven from the index that answers it (key,
list membership, field value), so a 100-key look-up touches ~100 index entries and a list of 100,000
members never scans the other 900,000 contacts. Single-KEY groups (the dedup look-up shape) are merged
into shared ``IN`` lists; statements are batched under SQLite's compound-SELECT and parameter limits, so
any number of groups works.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

CHUNK = 500  # values per IN (...) list
_TERMS = 200  # SELECTs per compound statement (SQLite allows 500)
_PARAMS = 30_000  # host parameters per statement (SQLite allows 32,766)

Condition = tuple[str, str | None, Sequence[str]]  # (KEY | LIST_ID | FIELD_ID, field id, EQ values)
Term = tuple[str, list[str]]  # (SELECT cid …, its parameters)


def marks(n: int) -> str:
    return ",".join("?" * n)


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(frozen=True)
class Query:
    """One search page: OR-ed ``groups`` of AND-ed conditions in a structure (no groups: all of it), keys
    matched case-insensitively or not (a knob), ``limit`` ids from ``offset``."""

    structure_id: str
    groups: Sequence[Sequence[Condition]]
    insensitive: bool
    offset: int
    limit: int


def run(db: sqlite3.Connection, query: Query) -> tuple[int, list[str]]:
    """``(total, ids of one page)``. Call inside a transaction."""
    structure_id, groups, insensitive = query.structure_id, query.groups, query.insensitive
    offset, limit = query.offset, query.limit
    if not groups:
        count = db.execute("SELECT count(*) FROM contacts WHERE structure_id=?", (structure_id,))
        rows = db.execute(
            "SELECT id FROM contacts WHERE structure_id=? ORDER BY created_at, id LIMIT ? OFFSET ?",
            (structure_id, limit, offset),
        )
        return int(count.fetchone()[0]), [r[0] for r in rows]
    db.execute("CREATE TEMP TABLE IF NOT EXISTS search_match(cid TEXT PRIMARY KEY) WITHOUT ROWID")
    db.execute("DELETE FROM temp.search_match")
    for batch in _batches(group_terms(structure_id, groups, insensitive)):
        sql = " UNION ALL ".join(t[0] for t in batch)
        db.execute(
            f"INSERT OR IGNORE INTO temp.search_match SELECT cid FROM ({sql})",
            [a for t in batch for a in t[1]],
        )
    # every term is confined to the structure, so the temp table's size is the total
    total = db.execute("SELECT count(*) FROM temp.search_match").fetchone()[0]
    ids = db.execute(
        "SELECT c.id FROM temp.search_match m CROSS JOIN contacts c ON c.id = m.cid "
        "ORDER BY c.created_at, c.id LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    db.execute("DELETE FROM temp.search_match")
    return int(total), [r[0] for r in ids]


def group_terms(structure_id: str, groups: Sequence[Sequence[Condition]], insensitive: bool) -> list[Term]:
    """One ``SELECT cid`` per group (its criteria intersected); single-KEY groups share ``IN`` terms."""
    key_col = "key_lower" if insensitive else "key"

    def norm(values: Sequence[str], column: str) -> list[str]:
        return [v.lower() for v in values] if column == "KEY" and insensitive else list(values)

    def select(column: str, field_id: str | None, values: list[str]) -> Term:
        qs = marks(len(values))
        if column == "KEY":
            sql = f"SELECT id AS cid FROM contacts WHERE structure_id=? AND {key_col} IN ({qs})"
            return sql, [structure_id, *values]
        if column == "LIST_ID":  # a list of another structure matches nothing here
            sql = f"SELECT contact_id AS cid FROM contact_lists WHERE list_id IN (SELECT id FROM lists WHERE structure_id=? AND id IN ({qs}))"
            return sql, [structure_id, *values]
        # field ids are unique across structures and a contact only holds its own structure's fields
        sql = f"SELECT contact_id AS cid FROM contact_fields WHERE field_id=? AND value IN ({qs})"
        return sql, [field_id or "", *values]

    keys = sorted({v for g in groups if len(g) == 1 and g[0][0] == "KEY" for v in norm(g[0][2], "KEY")})
    terms = [select("KEY", None, list(chunk)) for chunk in chunks(keys)]
    for group in groups:
        if len(group) == 1 and group[0][0] == "KEY":
            continue
        parts = [select(column, fid, norm(values, column)) for column, fid, values in group]
        sql = " INTERSECT ".join(p[0] for p in parts)
        terms.append((f"SELECT cid FROM ({sql})", [a for p in parts for a in p[1]]))
    return terms


def _batches(terms: list[Term]) -> Iterator[list[Term]]:
    """Group terms so one statement stays under SQLite's compound-SELECT and parameter limits."""
    batch: list[Term] = []
    params = 0
    for term in terms:
        if batch and (len(batch) >= _TERMS or params + len(term[1]) > _PARAMS):
            yield batch
            batch, params = [], 0
        batch.append(term)
        params += len(term[1])
    if batch:
        yield batch
