"""``bme-migrate undo`` end to end: the real entry point, real files, real HTTP against the sandbox.

A sandbox already holds three of the export's people (one in a list of its own); the run creates the others,
fills the three and adds them to "Newsletter"; someone then edits one created contact. Undo must delete the
created ones, keep (and report) the edited one, take only "Newsletter" off the three, leave their other
data alone, and — run again — write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from etl.sandbox.knobs import Knobs
from tests.fixtures.sandbox import client_for, default_structure, key_eq, search_body
from tests.load_support import people_csv

SEARCH = "POST /api/contact/search"
WRITES = ("DELETE /api/contact/{contactId}", "PUT /api/contact/{contactId}", "POST /api/contact")
PRE = ("person1@example.com", "person2@example.com", "person3@example.com")
EDITED = "person5@example.com"


def _schema_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs/schema/undo.schema.json").read_text())
    return [e.message for e in Draft202012Validator(schema).iter_errors(doc)]


def _csv(tmp_path: Path, n: int) -> Path:
    return people_csv(tmp_path, n, company=True)


def _find(http: httpx.Client, sid: str, key: str) -> dict[str, Any] | None:
    body = search_body(sid, key_eq(key), source=["_id", "key", "fields", "lists", "tags"])
    hits = http.post("/api/contact/search", json=body).json()["contacts"]
    return hits[0] if hits else None


def _get(http: httpx.Client, sid: str, key: str) -> dict[str, Any] | None:
    hit = _find(http, sid, key)
    if hit is None:
        return None
    r = http.get(f"/api/contact/{hit['_id']}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


@pytest.fixture
def world(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A sandbox holding PRE before the run (person2 in list "Old"), and the env that targets it."""
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n")
    http = client_for(box)
    sid = default_structure(http)["_id"]
    old = http.post(f"/api/contact-structure/{sid}/lists", json={"name": "Old"})
    assert old.status_code == 201, old.text
    for key in PRE:
        body: dict[str, Any] = {"key": key, "contactStructureId": sid}
        if key == "person2@example.com":
            body["lists"] = [{"_id": old.json()["_id"]}]
        assert http.post("/api/contact", json=body).status_code == 200
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    return box, http, sid, old.json()["_id"], env


def _flags(tmp_path: Path) -> list[str]:
    return ["--state-dir", str(tmp_path / "state"), "--report-dir", str(tmp_path / "r")]


def _migrate(run, env: dict[str, str], tmp_path: Path, n: int = 8) -> str:  # type: ignore[no-untyped-def]
    args = ["migrate", str(_csv(tmp_path, n)), "--list", "Newsletter", "--create-fields", "--create-lists"]
    done = run([*args, "--no-verify", *_flags(tmp_path)], env)
    assert done.exit_code == 0, done.output
    return str(json.loads((tmp_path / "r" / "report.json").read_text())["run_id"])


def _edit(http: httpx.Client, sid: str, key: str) -> None:
    """Someone changes a created contact's first name after the run (GET for ``__v``, then PUT)."""
    doc = _get(http, sid, key)
    assert doc is not None
    first = next(f["_id"] for f in default_structure(http)["fields"] if f["label"] == "First Name")
    fields = [
        {"_id": f["_id"], "value": "Edited" if f["_id"] == first else f["value"]} for f in doc["fields"]
    ]
    body = {k: doc[k] for k in ("key", "contactStructureId", "lists", "tags", "status", "__v")}
    r = http.put(f"/api/contact/{doc['_id']}", json={**body, "fields": fields})
    assert r.status_code == 200, r.text


def test_undo_plans_dry_then_deletes_ours_keeps_edited_and_rerun_writes_nothing(
    run, world, tmp_path: Path
) -> None:
    box, http, sid, old_list, env = world
    run_id = _migrate(run, env, tmp_path)
    created = [f"person{i}@example.com" for i in (0, 4, 5, 6, 7)]
    newsletter = next(
        x["_id"]
        for x in http.get(f"/api/contact-structure/{sid}/lists/all").json()
        if x["name"] == "Newsletter"
    )
    for key in PRE:  # the run filled them and added the list
        doc = _get(http, sid, key)
        assert doc is not None and newsletter in [x["_id"] for x in doc["lists"]]
    _edit(http, sid, EDITED)
    before_undo = {key: _get(http, sid, key) for key in PRE}

    # dry: the plan, nothing written
    box.app.reset_counts()
    dry = run(["undo", run_id[:8], *_flags(tmp_path)], env)
    assert dry.exit_code == 0, dry.output
    assert set(box.app.request_counts()) == {SEARCH}
    assert f"undo plan for run {run_id}" in dry.out
    assert "delete:        4 contact(s)" in dry.out
    assert "keep:          1 created contact(s)" in dry.out
    assert "remove lists:  3 membership(s) the run added to 3 pre-existing contact(s)" in dry.out
    assert "not reverted:  3 pre-existing contact(s)" in dry.out
    assert f'kept {EDITED}: field "First Name" is "Edited", the run wrote "First5"' in dry.out
    assert "--yes sends 10 more (4 DELETE + 3 GET/PUT pair(s))" in dry.out
    assert "dry run: nothing was written" in dry.out
    plan = json.loads((tmp_path / "r" / "undo.json").read_text())
    assert _schema_errors(plan) == []  # docs/schema/undo.schema.json
    assert plan["applied"] is False and plan["run_id"] == run_id
    assert sorted(d["key"] for d in plan["delete"]) == sorted(k for k in created if k != EDITED)
    assert [k["key"] for k in plan["kept"]] == [EDITED]
    assert plan["kept"][0]["changes"] == [
        {
            "what": "field",
            "field": "First Name",
            "field_id": plan["kept"][0]["changes"][0]["field_id"],
            "wrote": "First5",
            "now": "Edited",
        }
    ]
    assert sorted(r["key"] for r in plan["remove_lists"]) == list(PRE)
    assert all(r["lists"] == [{"list_id": newsletter, "name": "Newsletter"}] for r in plan["remove_lists"])
    befores = {u["key"]: u["before"] for u in plan["updated_not_reverted"]}
    assert set(befores) == set(PRE)
    assert befores["person1@example.com"]["fields"]["First Name"] == ""
    assert befores["person2@example.com"]["lists"] == [old_list]
    for key in created:
        assert _find(http, sid, key) is not None  # still there after the dry run

    # --yes: created deleted, the edited one kept, pre-existing ones lose Newsletter only
    box.app.reset_counts()
    done = run(["undo", run_id, "--yes", *_flags(tmp_path)], env)
    assert done.exit_code == 0, done.output
    counts = box.app.request_counts()
    assert counts.get("DELETE /api/contact/{contactId}") == 4
    assert counts.get("PUT /api/contact/{contactId}") == 3
    assert "undone: 4 deleted, 3 contact(s) lost the run's lists" in done.out
    for key in created:
        assert (_find(http, sid, key) is None) == (key != EDITED), key
    edited = _get(http, sid, EDITED)
    assert edited is not None and "Edited" in [f["value"] for f in edited["fields"]]
    for key in PRE:
        after = _get(http, sid, key)
        was = before_undo[key]
        assert after is not None and was is not None
        assert after["_id"] == was["_id"]
        assert [x["_id"] for x in after["lists"]] == [
            x["_id"] for x in was["lists"] if x["_id"] != newsletter
        ]
        assert after["fields"] == was["fields"] and after["status"] == was["status"]  # not reverted
    assert [x["_id"] for x in (_get(http, sid, "person2@example.com") or {})["lists"]] == [old_list]
    applied = json.loads((tmp_path / "r" / "undo.json").read_text())
    assert _schema_errors(applied) == []  # docs/schema/undo.schema.json
    assert applied["applied"] is True
    assert {d["result"] for d in applied["delete"]} == {"deleted"}
    assert {d["result"] for d in applied["remove_lists"]} == {"lists removed"}

    # again: nothing to write (and only the kept contact is read back)
    box.app.reset_counts()
    again = run(["undo", "latest", "--yes", *_flags(tmp_path)], env)
    assert again.exit_code == 0, again.output
    assert not any(box.app.request_counts().get(w) for w in WRITES), box.app.request_counts()
    assert "already undone: 7 action(s) of an earlier undo" in again.out
    assert "undone: 0 deleted" in again.out


def test_max_requests_stops_cleanly_and_the_next_undo_finishes(run, world, tmp_path: Path) -> None:
    box, http, sid, _, env = world
    run_id = _migrate(run, env, tmp_path)
    box.app.reset_counts()
    # one search reads everything back, then 2 of the 8 writes go out
    stopped = run(["undo", run_id, "--yes", "--max-requests", "3", *_flags(tmp_path)], env)
    assert stopped.exit_code == 75, stopped.output
    assert "--max-requests 3 reached" in stopped.err
    assert sum(box.app.request_counts().values()) == 3
    partial = json.loads((tmp_path / "r" / "undo.json").read_text())
    assert _schema_errors(partial) == []  # docs/schema/undo.schema.json
    assert sum(1 for d in partial["delete"] if d.get("result") == "deleted") == 2
    box.app.reset_counts()
    rest = run(["undo", run_id, "--yes", *_flags(tmp_path)], env)
    assert rest.exit_code == 0, rest.output
    assert "already undone: 2 action(s)" in rest.out
    assert box.app.request_counts().get("DELETE /api/contact/{contactId}") == 3
    for i in (0, 4, 5, 6, 7):
        assert _find(http, sid, f"person{i}@example.com") is None
    for key in PRE:
        assert _find(http, sid, key) is not None


def test_a_delete_lost_in_flight_is_found_gone_and_settled_without_a_request(
    run, world, tmp_path: Path
) -> None:
    """A kill after a DELETE reached the account but before its settle: the next undo reads the contact
    back, finds it gone, and settles the action without sending it again."""
    from etl.load.ledger import Ledger
    from etl.load.undo import DELETE

    box, http, sid, _, env = world
    run_id = _migrate(run, env, tmp_path)
    victim = _find(http, sid, "person0@example.com")
    assert victim is not None
    edited = _find(http, sid, EDITED)
    assert edited is not None
    with Ledger.open(tmp_path / "state") as ledger:  # as a killed undo left them
        ledger.run(run_id).undo_intent("person0@example.com", DELETE, victim["_id"])
        ledger.run(run_id).undo_intent(EDITED, DELETE, edited["_id"])
    assert http.delete(f"/api/contact/{victim['_id']}").status_code == 200  # the request that landed
    _edit(http, sid, EDITED)  # the other one never landed, and the contact was edited since
    box.app.reset_counts()
    done = run(["undo", run_id, "--yes", *_flags(tmp_path)], env)
    assert done.exit_code == 0, done.output
    assert "resumed:       2 action(s)" in done.out
    assert box.app.request_counts().get("DELETE /api/contact/{contactId}") == 3
    assert _find(http, sid, EDITED) is not None
    with Ledger.open(tmp_path / "state") as ledger:
        log = ledger.run(run_id).undo_log()
    assert log[("person0@example.com", DELETE)] == ("done", "already gone")
    assert log[(EDITED, DELETE)] == ("in_flight", None)  # kept, not called done: re-read next time


def test_unknown_run_is_a_one_line_error(run, world, tmp_path: Path) -> None:
    _, _, _, _, env = world
    empty = run(["undo", "latest", "--state-dir", str(tmp_path / "nothing")], env)
    assert empty.exit_code == 2 and empty.err.startswith("error: no runs in") and empty.out == ""
    assert not (tmp_path / "nothing").exists()  # looking created nothing
    _migrate(run, env, tmp_path)
    bad = run(["undo", "zzzz", *_flags(tmp_path)], env)
    assert bad.exit_code == 2 and bad.err.startswith("error: no run 'zzzz'") and bad.out == ""
    assert len(bad.err.strip().splitlines()) == 1


def test_sigkill_mid_undo_then_rerun_deletes_each_created_contact_exactly_once(
    run, sandbox_factory, tmp_path: Path
) -> None:
    """A real kill: ``undo --yes`` in its own process, SIGKILLed once a few deletes are settled in the
    ledger; the re-run finishes, and the account saw one DELETE per created contact, no more."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9, latency_ms=40))
    key_file = tmp_path / "key.txt"
    key_file.write_text(box.api_key + "\n")
    env = {"BME_BASE_URL": box.url, "BME_API_KEY_FILE": str(key_file)}
    n = 40
    run_id = _migrate(run, env, tmp_path, n=n)
    box.app.reset_counts()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from etl.launch import main; main()",
            "undo",
            run_id,
            "--yes",
            *_flags(tmp_path),
        ],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ledger_db = tmp_path / "state" / "ledger.db"
    deadline = time.monotonic() + 60
    settled = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with sqlite3.connect(f"{ledger_db.resolve().as_uri()}?mode=ro", uri=True) as db:
                    settled = db.execute("SELECT COUNT(*) FROM undo WHERE state='done'").fetchone()[0]
            except sqlite3.OperationalError:
                settled = 0  # the table is not there yet
            if settled >= 5:
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    assert settled >= 5 and proc.returncode == -signal.SIGKILL, (settled, out, err)
    assert box.app.request_counts().get("DELETE /api/contact/{contactId}", 0) < n  # killed half-way
    done = run(["undo", run_id, "--yes", *_flags(tmp_path)], env)
    assert done.exit_code == 0, done.output
    assert box.app.request_counts().get("DELETE /api/contact/{contactId}") == n  # each exactly once
    http = client_for(box)
    sid = default_structure(http)["_id"]
    assert all(_find(http, sid, f"person{i}@example.com") is None for i in range(0, n, 7))
    with sqlite3.connect(ledger_db) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM undo GROUP BY state").fetchall())
    assert states == {"done": n}
    again = run(["undo", run_id, "--yes", *_flags(tmp_path)], env)
    assert again.exit_code == 0 and box.app.request_counts().get("DELETE /api/contact/{contactId}") == n
