"""Exactly-once across crash points, over real HTTP. Each crash point is staged deterministically.

A kill can land (1) before the intent commit, (2) after it but before the request, (3) after the request
was applied but before its response arrived, (4) after the response but before the outcome commit. (1)
leaves the contact ``planned``; (2)–(4) leave it ``in_flight``, with or without the write applied. The
ledger is staged into exactly those states through its public API and the account through the API.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.load.ledger import DONE, Ledger
from etl.load.run import LoadSettings, load
from etl.sandbox.knobs import Knobs
from tests.load_support import (
    account_contacts,
    assert_matches_plan,
    make_plans,
    prepared_sandbox,
    setup_account,
)


@pytest.fixture
def target(sandbox_factory):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    box = sandbox_factory(
        knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9, status_on_create="ignore"), clock=clock
    )
    return box, setup_account(box.url, box.api_key), clock


def _settings(box, account, state_dir: Path, **kw) -> LoadSettings:  # type: ignore[no-untyped-def]
    return LoadSettings(box.url, Secret(box.api_key), state_dir, account.structure_id, "run", **kw)


def _stage_run(state_dir: Path, plans, crash_key: str, op: str, done_keys=()) -> None:  # type: ignore[no-untyped-def]
    """A ledger as a killed run leaves it: index built (empty account), some done, one in flight."""
    with Ledger.open(state_dir) as ledger:
        run = ledger.run("run")
        run.start(base_url=None, structure_id=None)
        run.add_plan(plans)
        run.set_meta("index_strategy", "empty")
        run.set_meta("page_size", "100")
        for key in done_keys:
            run.intent(key, "create")
            run.settle(key, state=DONE, outcome="created")
        run.intent(crash_key, op, ours=op != "create")  # as the loader marks its own contacts


@pytest.mark.parametrize("applied", [False, True], ids=["intent-not-sent", "sent-response-lost"])
def test_in_flight_create_is_resolved_by_search_before_any_resend(
    target, tmp_path: Path, applied: bool
) -> None:
    box, account, clock = target
    plans = make_plans(account, 20)
    crash = plans[10]  # Inactive (every 10th): the status must end right too
    done = [p.key for p in plans[1:10]]  # all Active; plans[0] (Inactive) was not reached
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        for p in plans[1:10]:
            assert http.post("/api/contact", json=p.create_body(account.structure_id)).status_code == 200
        if applied:  # the server applied the create (and, status ignored, made it Active)
            assert http.post("/api/contact", json=crash.create_body(account.structure_id)).status_code == 200
    _stage_run(tmp_path, plans, crash.key, "create", done)
    box.app.reset_counts()
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    served = box.app.request_counts()
    assert served["POST /api/contact/search"] == 1  # the in-flight key, searched first
    assert served["POST /api/contact"] == 10 + (0 if applied else 1)  # never re-sent once applied
    assert served["PATCH /api/contact/{contactId}"] == 2  # both Inactive contacts, once each
    assert summary.rows == {"created": 20}
    assert_matches_plan(box.app, plans)


def test_in_flight_status_patch_is_finished_on_resume(target, tmp_path: Path) -> None:
    box, account, clock = target
    plans = make_plans(account, 3)
    inactive = plans[0]
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        assert http.post("/api/contact", json=inactive.create_body(account.structure_id)).status_code == 200
    _stage_run(tmp_path, plans, inactive.key, "patch")
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.rows == {"created": 3}
    assert_matches_plan(box.app, plans)


def test_lost_responses_and_server_errors_never_duplicate(sandbox_factory, tmp_path: Path) -> None:
    clock = FakeClock()
    box, account = prepared_sandbox(
        sandbox_factory,
        tmp_path / "sandbox.db",
        clock,
        status_on_create="ignore",
        tags_on_create="ignore",
        fail_rate=0.1,
        lost_response_rate=0.1,
        seed=7,
    )
    plans = make_plans(account, 200)
    summary = load(plans, _settings(box, account, tmp_path / "state"), clock=clock)
    assert summary.state == "complete" and summary.rows == {"created": 200}
    assert len(account_contacts(box.app)) == 200
    assert_matches_plan(box.app, plans)
    assert summary.requests == box.app.request_counts()


def test_interrupt_checkpoints_and_the_same_command_resumes(target, tmp_path: Path) -> None:
    from etl.errors import Paused

    box, account, clock = target
    plans = make_plans(account, 50)
    seen: list[int] = []

    def stop_after_20() -> bool:
        seen.append(1)
        return len(seen) > 20

    with pytest.raises(Paused, match="interrupted"):
        load(plans, _settings(box, account, tmp_path), clock=clock, should_stop=stop_after_20)
    with Ledger.open(tmp_path, lock=False) as ledger:
        run = ledger.run("run")
        info = run.info()
        assert info is not None and info.state == "paused"
        assert run.row_totals() == {"created": 20, "pending": 30}
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.rows == {"created": 50}
    assert_matches_plan(box.app, plans)


def test_max_requests_pauses_then_resumes_without_waste(target, tmp_path: Path) -> None:
    from etl.errors import Paused

    box, account, clock = target
    plans = make_plans(account, 30)
    box.app.reset_counts()
    with pytest.raises(Paused, match="--max-requests 12"):
        load(plans, _settings(box, account, tmp_path, max_requests=12), clock=clock)
    assert sum(box.app.request_counts().values()) == 12
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.rows == {"created": 30}
    assert sum(box.app.request_counts().values()) == sum(summary.requests.values())
    assert_matches_plan(box.app, plans)


def test_update_that_landed_before_the_crash_counts_as_updated_and_is_not_resent(
    target, tmp_path: Path
) -> None:
    box, account, clock = target
    l1, l2 = account.list_ids
    plan = make_plans(account, 1, unsub_every=0)[0]
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        body = plan.create_body(account.structure_id)
        cid = http.post("/api/contact", json={**body, "lists": [{"_id": l2}]}).json()["_id"]  # someone else's
        with Ledger.open(tmp_path) as ledger:  # the index saw it before our merge PUT
            run = ledger.run("run")
            run.start(base_url=None, structure_id=None)
            run.add_plan([plan])
            run.set_meta("index_strategy", "paging")
            run.set_meta("page_size", "100")
            run.save_existing(
                [
                    (
                        plan.key,
                        {
                            "_id": cid,
                            "key": plan.key,
                            "status": "Active",
                            "fields": dict(plan.fields),
                            "lists": [l2],
                            "tags": [],
                        },
                    )
                ],
            )
            run.intent(plan.key, "put")
        current = http.get(f"/api/contact/{cid}").json()  # ... and the PUT applied, answer lost
        put = {k: current[k] for k in ("key", "fields", "tags", "status", "__v")}
        assert (
            http.put(f"/api/contact/{cid}", json={**put, "lists": [{"_id": l2}, {"_id": l1}]}).status_code
            == 200
        )
    box.app.reset_counts()
    summary = load([plan], _settings(box, account, tmp_path), clock=clock)
    assert summary.rows == {"updated": 1}
    assert box.app.request_counts() == {"POST /api/contact/search": 1}


def test_a_kill_inside_a_batch_of_create_intents_is_resolved_by_one_search(target, tmp_path: Path) -> None:
    """Creates commit their intents a batch at a time: a kill mid-batch leaves the batch in flight (some
    sent, some not), and the resume finds them with one batched search, then creates each missing contact
    exactly once."""
    from etl.load.loader import INTENT_BATCH

    box, account, clock = target
    plans = make_plans(account, 50, unsub_every=0)
    sent = 0

    def kill_after_seven_creates(request: httpx.Request) -> None:
        nonlocal sent
        if request.method == "POST" and request.url.path == "/api/contact":
            sent += 1
            if sent > 7:
                raise KeyboardInterrupt  # as a kill would stop the process: no clean-up runs

    http = httpx.Client(
        event_hooks={"request": [kill_after_seven_creates]}, headers={"X-API-Key": box.api_key}
    )
    with pytest.raises(KeyboardInterrupt):
        load(plans, _settings(box, account, tmp_path), clock=clock, http=http)
    http.close()
    with Ledger.open(tmp_path, lock=False) as ledger:
        run = ledger.run("run")
        stuck = run.contacts(["in_flight"])
        assert 1 < len(stuck) <= INTENT_BATCH  # the batch the kill interrupted
    assert len(account_contacts(box.app)) == 7
    box.app.reset_counts()
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.state == "complete" and summary.rows == {"created": 50}
    served = box.app.request_counts()
    assert served.get("POST /api/contact/search", 0) == 1 and served["POST /api/contact"] == 43
    assert_matches_plan(box.app, plans)


def _stored_on_disk(state_dir: Path) -> int:
    """Contacts of the run a reader of the file sees (a killed process's successor)."""
    import sqlite3

    db = sqlite3.connect(state_dir / "ledger.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM contacts WHERE run_id='run'").fetchone()[0])
    finally:
        db.close()


def test_the_first_write_goes_out_before_the_whole_plan_is_stored_and_a_kill_then_loses_nothing(
    target, tmp_path: Path
) -> None:
    """The plan is stored a chunk at a time ahead of the writes: the first create leaves with one chunk
    in the ledger, not the plan. A kill after a few chunks leaves a ledger the same load finishes: every
    contact created exactly once, none lost, the rest of the plan stored by the resume."""
    from etl.load.loader import INTENT_BATCH

    box, account, clock = target
    plans = make_plans(account, 50, unsub_every=0)
    stored_at_first_write: list[int] = []
    sent = 0

    def kill_after_twelve_creates(request: httpx.Request) -> None:
        nonlocal sent
        if request.method == "POST" and request.url.path == "/api/contact":
            if not stored_at_first_write:
                stored_at_first_write.append(_stored_on_disk(tmp_path))
            sent += 1
            if sent > 12:
                raise KeyboardInterrupt  # as a kill would stop the process: no clean-up runs

    http = httpx.Client(
        event_hooks={"request": [kill_after_twelve_creates]}, headers={"X-API-Key": box.api_key}
    )
    with Ledger.open(tmp_path, chunk=5) as ledger, pytest.raises(KeyboardInterrupt):
        load(plans, _settings(box, account, tmp_path), clock=clock, http=http, ledger=ledger)
    http.close()
    # the chunks (of 5) the first batch of create intents reaches into, not the plan of 50
    assert stored_at_first_write and stored_at_first_write[0] <= INTENT_BATCH + 5 < 50
    assert 12 <= _stored_on_disk(tmp_path) < 50  # killed while the plan was being stored
    with Ledger.open(tmp_path, lock=False) as ledger:  # what status --watch reads: the plan's whole size
        assert ledger.run("run").progress()[:2] == (12, 50)
    assert len(account_contacts(box.app)) == 12
    with Ledger.open(tmp_path, chunk=5) as ledger:
        summary = load(plans, _settings(box, account, tmp_path), clock=clock, ledger=ledger)
        assert ledger.run("run").plan_stored()
    assert summary.state == "complete" and summary.rows == {"created": 50}
    assert _stored_on_disk(tmp_path) == 50
    assert_matches_plan(box.app, plans)


def test_a_pause_stores_the_rest_of_the_plan_so_the_report_counts_every_row(target, tmp_path: Path) -> None:
    from etl.errors import Paused

    box, account, clock = target
    plans = make_plans(account, 30)
    with Ledger.open(tmp_path, chunk=4) as ledger:
        with pytest.raises(Paused, match="--max-requests 6"):
            load(plans, _settings(box, account, tmp_path, max_requests=6), clock=clock, ledger=ledger)
        run = ledger.run("run")
        assert run.plan_stored() and sum(run.row_totals().values()) == 30
        assert run.progress()[1] == 30


def test_a_ledger_written_before_plans_were_stored_in_chunks_opens_and_its_run_resumes(
    target, tmp_path: Path
) -> None:
    """A 0005 ledger (plan text per contact, one pending ``rows`` row per source row) is migrated in place
    and its paused run finishes: its stored plans are read as they are, its rows settle as before."""
    import sqlite3
    import time

    from etl.load.ledger import MIGRATIONS, plan_to_json

    box, account, clock = target
    plans = make_plans(account, 12)
    db = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, fn in MIGRATIONS[:5]:
        assert name != "0006_plan_chunks"
        fn(db)
        db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
    db.execute(
        "INSERT INTO runs (run_id, created_at, updated_at, state, base_url, structure_id)"
        " VALUES ('run', 1, 1, 'paused', ?, ?)",
        (box.url, account.structure_id),
    )
    for meta in (("index_strategy", "empty"), ("page_size", "100")):
        db.execute("INSERT INTO meta VALUES ('run', ?, ?)", meta)
    for seq, p in enumerate(plans):
        db.execute(
            "INSERT INTO contacts (run_id, key, seq, payload_hash, plan, state) VALUES ('run', ?, ?, 'h', ?,"
            " 'planned')",
            (p.key, seq, plan_to_json(p)),
        )
        db.execute("INSERT INTO rows VALUES ('run', ?, ?, 'pending', NULL)", (p.row_ids[0], p.key))
    db.close()
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("run")
        assert [c.plan for c in run.contacts(["planned"])] == plans
        assert run.row_totals() == {"pending": 12}
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.state == "complete" and summary.rows == {"created": 12}
    assert_matches_plan(box.app, plans)
    db = sqlite3.connect(tmp_path / "ledger.db")
    assert db.execute("SELECT COUNT(*) FROM plan_chunks").fetchone()[0] == 0  # its plan stayed as it was
    assert db.execute("SELECT COUNT(*) FROM rows WHERE outcome='created'").fetchone()[0] == 12
    db.close()
