"""The SQLite ledger on real files: lock, migrations, the intent/settle protocol, totals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.load.ledger import (
    DONE,
    IN_FLIGHT,
    PLANNED,
    STATUS_PENDING,
    Ledger,
    fingerprint,
    plan_from_json,
    plan_to_json,
)
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact

P1 = PlannedContact(
    "a@x.com", (1, 7), (("f" * 24, "A"),), ("l" * 24,), ("t" * 24,), BME_INACTIVE, BME_UNSUBSCRIBE
)
P2 = PlannedContact("b@x.com", (2,))


def test_second_run_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path):
        with pytest.raises(ConfigError, match="another bme-migrate run is using state dir"):
            Ledger.open(tmp_path)
        with Ledger.open(tmp_path, lock=False) as reader:  # `status` reads without the lock
            assert reader.runs() == []
    with Ledger.open(tmp_path):  # released on close
        pass


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()
    Ledger.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / "ledger.db")
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [
        "0001_initial",
        "0002_rows_follow_contacts",
        "0003_contacts_by_seq",
        "0004_undo",
        "0005_delta",
        "0006_plan_chunks",
    ]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_plan_round_trips_and_fingerprint_is_stable() -> None:
    assert plan_from_json(plan_to_json(P1)) == P1
    assert fingerprint("a", "b") == fingerprint("a", "b") != fingerprint("ab", "")


def test_intent_settle_revert_and_row_outcomes(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.start(base_url="http://x", structure_id="s")
        assert run.add_plan([P1, P2]) == 2
        assert run.add_plan([P1, P2]) == 0  # a resumed run keeps its plan
        run.intent(P1.key, "create")
        assert [c.state for c in run.contacts([IN_FLIGHT])] == [IN_FLIGHT]
        run.revert_intent(P1.key)
        row = run.contacts([PLANNED])[0]
        assert row.plan == P1 and row.attempts == 0
        run.intent(P1.key, "create")
        run.settle(P1.key, state=STATUS_PENDING, outcome="created", contact_id="c1", ours=True)
        assert run.row_totals() == {"pending": 3}  # rows settle only when the contact is done
        run.intent(P1.key, "patch")
        run.settle(P1.key, state=DONE, outcome="created")
        run.intent(P2.key, "create")
        run.settle(P2.key, state=DONE, outcome="failed", error="ValidationError: bad")
        assert run.row_totals() == {"created": 2, "failed": 1}
        assert run.contact_totals() == {"created": 1, "failed": 1, "pending": 0}
        assert run.tallies() == (run.contact_totals(), run.row_totals())  # the contacts alone: the same
        assert run.tallies(rows=False) == (run.contact_totals(), {})
        assert run.row_outcomes()[-1] == (7, "a@x.com", "created", None)
        done = run.contacts([DONE])
        assert done[0].contact_id == "c1" and done[0].ours


def test_a_settle_is_written_with_the_next_intent_and_never_leaves_two_in_flight(tmp_path: Path) -> None:
    """One commit per request: a settle rides with the next intent. Another reader (a killed process's
    successor) sees at most one contact in flight at any moment, and closing writes what is owed."""

    def on_disk() -> dict[str, str]:
        db = sqlite3.connect(tmp_path / "ledger.db")
        try:
            return dict(db.execute("SELECT key, state FROM contacts WHERE run_id='r1'").fetchall())
        finally:
            db.close()

    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.start(base_url="http://x", structure_id="s")
        run.add_plan([P1, P2])
        run.intent(P1.key, "create")
        run.settle(P1.key, state=DONE, outcome="created", contact_id="c1", ours=True)
        assert on_disk() == {P1.key: IN_FLIGHT, P2.key: PLANNED}  # a kill now: one search on resume
        run.intent(P2.key, "create")
        assert on_disk() == {P1.key: DONE, P2.key: IN_FLIGHT}
        run.settle(P2.key, state=DONE, outcome="created", contact_id="c2", ours=True)
    assert on_disk() == {P1.key: DONE, P2.key: DONE}  # closing wrote what was owed
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.intent(P1.key, "put")
        run.settle(P1.key, state=DONE, outcome="updated")
        assert run.contact_totals()["updated"] == 1  # the ledger's own reads see it at once


def test_request_counts_survive_close(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.start(base_url=None, structure_id=None)
        run.count_request("POST /api/contact")
        run.count_request("POST /api/contact")
        assert run.request_counts() == {"POST /api/contact": 2}
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        assert run.request_counts() == {"POST /api/contact": 2}


def test_run_states_and_meta(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.start(base_url="http://x", structure_id="s", resume_command="bme-migrate migrate a.csv")
        run.set_state("paused", reason="monthly API quota exhausted", resume_after="2027-01-01T00:00:00Z")
        run.set_meta("status_on_create", "ignored")
        info = run.info()
        assert info is not None and info.state == "paused" and info.resume_after == "2027-01-01T00:00:00Z"
        assert run.start(base_url="http://x", structure_id="s").state == "running"
        run.set_state("complete")
        assert run.start(base_url="http://x", structure_id="s").state == "complete"
        assert run.get_meta("status_on_create") == "ignored"


def test_contacts_are_read_in_plan_order_a_chunk_at_a_time(tmp_path: Path) -> None:
    """Chunks of 2 over 5 contacts; a contact settled while the iteration is under way is read as it is
    when its chunk is read."""
    plans = [PlannedContact(f"{c}@x.com", (i,)) for i, c in enumerate("edcba")]
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        run.start(base_url=None, structure_id=None)
        run.add_plan(plans)
        seen = []
        for row in run.iter_contacts([PLANNED], chunk=2):
            seen.append(row.plan.key)
            if row.plan.key == "e@x.com":  # settle one the next chunk would have read
                run.intent("c@x.com", "create")
                run.settle("c@x.com", state=DONE, outcome="created")
        assert seen == ["e@x.com", "d@x.com", "b@x.com", "a@x.com"]
        assert run.count_contacts([PLANNED]) == 4 and run.count_contacts([DONE]) == 1


def test_read_options_count_in_the_run_id_only_when_given() -> None:
    """Runs without --encoding/--delimiter keep the id they always had; a given encoding or delimiter
    reads other contacts from the same bytes, so it is another run."""
    from etl.extract.options import ReadOptions, read_options
    from etl.load.ledger import fingerprint
    from etl.pipeline.migration import MigrateOptions, run_fingerprint

    plain = MigrateOptions(sources=("x.csv",))
    flags = "lists=[];unconfirmed=False;on_existing=merge;create=False,False,False"
    assert run_fingerprint(plain, "http://h", ["d"]) == fingerprint(
        "d", "detected", flags, "http://h", "default"
    )
    ids = {
        run_fingerprint(MigrateOptions(sources=("x.csv",), read=r), "http://h", ["d"])
        for r in (ReadOptions(), read_options("cp1250"), read_options("cp1252"), read_options(None, ";"))
    }
    assert len(ids) == 4
    same = [read_options("Windows-1250"), read_options("cp1250"), read_options("CP1250")]
    assert len({run_fingerprint(MigrateOptions(sources=("x.csv",), read=r), "u", ["d"]) for r in same}) == 1


def test_undo_log_intent_settle_revert_survive_a_reopen(tmp_path: Path) -> None:
    """The undo table: an intent is durable before its request, a settle records what happened, a revert
    forgets an intent whose request never went out (but not one that was attempted before)."""
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("r1")
        assert run.undo_log() == {}
        run.undo_intent("a@x.com", "undo_delete", "id-a")
        run.undo_intent("b@x.com", "undo_delete", "id-b")
        run.undo_settle("b@x.com", "undo_delete", "deleted")
        run.undo_intent("c@x.com", "undo_remove_lists", "id-c")
        run.undo_revert("c@x.com", "undo_remove_lists")
        run.undo_intent("a@x.com", "undo_delete", "id-a")  # a second attempt of a's delete …
        run.undo_revert("a@x.com", "undo_delete")  # … that did not go out: the first may have landed
        assert ledger.run("r2").undo_log() == {}
    with Ledger.open(tmp_path, readonly=True) as ledger:
        assert ledger.run("r1").undo_log() == {
            ("a@x.com", "undo_delete"): ("in_flight", None),
            ("b@x.com", "undo_delete"): ("done", "deleted"),
        }
