"""Sandbox persistence: a restart on the same SQLite file keeps every record and the rate counters."""

from __future__ import annotations

import sqlite3

import pytest

from etl.clock import FakeClock
from etl.errors import ConfigError
from etl.sandbox.knobs import Knobs
from etl.sandbox.store import ContactRow, Store, iso
from tests.fixtures.sandbox import client_for, default_structure, key_eq, search_body


def test_restart_keeps_structures_lists_contacts_and_counters(sandbox_factory, tmp_path) -> None:
    db = tmp_path / "state" / "sandbox.db"
    clock = FakeClock()
    knobs = Knobs(hourly_limit=50)
    first = sandbox_factory(knobs, clock, db)
    with client_for(first) as c:
        s = default_structure(c)
        s = c.put(
            f"/api/contact-structure/{s['_id']}",
            json={
                "label": "Renamed",
                "keyName": "Email",
                "fields": [*s["fields"], {"label": "Company"}],
                "tags": [{"label": "VIP"}],
                "__v": 0,
            },
        ).json()
        lst = c.post(f"/api/contact-structure/{s['_id']}/lists", json={"name": "News"}).json()
        contact = c.post(
            "/api/contact",
            json={
                "key": "a@example.com",
                "contactStructureId": s["_id"],
                "lists": [{"_id": lst["_id"]}],
                "tags": [{"_id": s["tags"][0]["_id"]}],
                "fields": [{"_id": s["fields"][2]["_id"], "value": "ACME"}],
                "status": {"primary": "Inactive", "secondary": "Unsubscribe"},
            },
        ).json()
        remaining = int(c.get("/api/contact").headers["X-RateLimit-Remaining"])
    first.stop()

    second = sandbox_factory(knobs, clock, db)
    with client_for(second) as c:
        assert c.get("/api/contact-structure").json() == [s]
        assert c.get(f"/api/contact-structure/{s['_id']}/lists/all").json() == [
            {"_id": lst["_id"], "name": "News", "type": "static"}
        ]
        r = c.get(f"/api/contact/{contact['_id']}")
        assert r.json() == contact
        assert int(r.headers["X-RateLimit-Remaining"]) == remaining - 3  # three requests since the restart
        found = c.post("/api/contact/search", json=search_body(s["_id"], key_eq("a@example.com")))
        assert found.json()["totalRecords"] == 1
        dup = c.post("/api/contact", json={"key": "a@example.com", "contactStructureId": s["_id"]})
        assert dup.status_code == 400
        new = c.post("/api/contact", json={"key": "b@example.com", "contactStructureId": s["_id"]})
        assert new.status_code == 200 and new.json()["_id"] != contact["_id"]


def test_file_database_uses_wal(tmp_path) -> None:
    store = Store(tmp_path / "s.db")
    store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_search_uses_the_key_indexes(tmp_path) -> None:
    """The million-contact promise rests on these plans: a seek, not a scan, for each case rule."""
    store = Store(tmp_path / "s.db")
    try:
        for column in ("key", "key_lower"):
            plan = " ".join(
                r[3]
                for r in store._db.execute(
                    f"EXPLAIN QUERY PLAN SELECT created_at, id FROM contacts WHERE structure_id=? AND {column} IN (?,?)",
                    ("s", "a", "b"),
                )
            )
            assert "USING INDEX contacts_by_" in plan and "SCAN" not in plan, plan
    finally:
        store.close()


def test_incompatible_database_is_a_config_error(tmp_path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET v='99' WHERE k='schema_version'")
    raw.close()
    with pytest.raises(ConfigError, match="schema version 99"):
        Store(db)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="cannot open sandbox database"):
        Store(tmp_path / "junk.db")


def test_bulk_insert_is_served_like_api_created_contacts(sandbox_factory, tmp_path) -> None:
    """The bench/fixture fast path writes the same rows and indexes the routes read."""
    db = tmp_path / "bulk.db"
    store = Store(db)
    store.ensure_default_structure(1_800_000_000.0)
    s = store.structures()[0]
    lst = store.create_list(s.id, "Bulk", 1_800_000_000.0)
    first = s.fields[0]["_id"]
    rows = [
        ContactRow(
            store.ids.new(1_800_000_000.0 + i),
            s.id,
            f"u{i}@example.com",
            [(first, f"F{i % 3}")],
            [lst.id] if i % 2 else [],
            [],
            "Active",
            None,
            0,
            iso(1_800_000_000.0 + i),
            iso(1_800_000_000.0 + i),
        )
        for i in range(1000)
    ]
    assert store.bulk_insert(rows, chunk=300) == 1000
    store.close()
    box = sandbox_factory(db=db)
    with client_for(box) as c:
        assert c.get(f"/api/contact/{rows[7].id}").json()["fields"] == [{"_id": first, "value": "F1"}]
        assert c.get(f"/api/contact-structure/{s.id}/lists/{lst.id}").json()["totalContacts"] == 500
        crit = {"columnToFilter": "FIELD_ID", "operator": "EQ", "values": ["F0"], "fieldId": first}
        assert c.post("/api/contact/search", json=search_body(s.id, [[crit]])).json()["totalRecords"] == 334
        dup = c.post("/api/contact", json={"key": "U5@EXAMPLE.COM", "contactStructureId": s.id})
        assert dup.status_code == 400
