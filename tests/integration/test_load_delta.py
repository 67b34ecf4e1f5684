"""The cut-over delta over real HTTP: a newer export of the same people, the same state dir, a three-way merge.

After a complete migration of N contacts, a newer export in which 1% were renamed, 1% unsubscribed, 1% are
new and 1% left the export, while another 1% were edited in Benchmark meanwhile: exactly the renames (one
PUT each, no GET: the ``__v`` our last write left is reused), the unsubscribes (one PATCH each) and the new
people (one POST each) are written; the edits are kept and reported as conflicts; the people gone from the
export are listed and left in the account; and the requests are at most the index read plus one per
changed contact (counted by the sandbox and by the ledger, which agree).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.load.ledger import Ledger
from etl.load.run import LoadSettings, load
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact
from etl.sandbox.knobs import Knobs
from tests.load_support import Account, account_contacts, make_plans, setup_account

N = 5000
WRITES = ("POST /api/contact", "PUT /api/contact/{contactId}", "PATCH /api/contact/{contactId}")
SEARCH = "POST /api/contact/search"
EXPORT = "POST /api/contact/export"


def _open(sandbox_factory):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9), clock=clock)
    return box, setup_account(box.url, box.api_key), clock


def _settings(box, account: Account, state_dir: Path, run_id: str, **kw: Any) -> LoadSettings:  # type: ignore[no-untyped-def]
    return LoadSettings(box.url, Secret(box.api_key), state_dir, account.structure_id, run_id, **kw)


def _edit_in_benchmark(box, keys_values: dict[str, tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    """Someone edits contacts in Benchmark: GET + PUT through the API, as a user's integration would."""
    ids = {k: c.id for k, c in account_contacts(box.app).items()}
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}, trust_env=False) as http:
        for key, (fid, value) in keys_values.items():
            doc = http.get(f"/api/contact/{ids[key]}").json()
            fields = [f for f in doc["fields"] if f["_id"] != fid] + [{"_id": fid, "value": value}]
            body = {k: doc[k] for k in ("key", "lists", "tags", "status", "__v") if k in doc}
            body |= {"fields": fields, "contactStructureId": doc["contactStructureId"]}
            r = http.put(f"/api/contact/{ids[key]}", json=body)
            assert r.status_code == 200, r.text


def _renamed(p: PlannedContact, fid: str, value: str) -> PlannedContact:
    return replace(p, fields=tuple(sorted({**dict(p.fields), fid: value}.items())))


@pytest.mark.slow
def test_delta_writes_only_what_changed_and_keeps_edits_as_conflicts(sandbox_factory, tmp_path: Path) -> None:
    box, account, clock = _open(sandbox_factory)
    first_name, last_name = account.field_ids[0], account.field_ids[1]
    plans = make_plans(account, N, unsub_every=0)
    started = time.monotonic()
    first = load(plans, _settings(box, account, tmp_path, "first"), clock=clock)
    assert first.rows == {"created": N}

    step = 100  # 1% each
    renamed = {p.key for p in plans[0::step]}
    unsubscribed = {p.key for p in plans[1::step]}
    edited = {p.key: (last_name, f"Edited{i}") for i, p in enumerate(plans) if i % step == 2}
    gone = {p.key for p in plans[3::step]}
    new = make_plans(account, N // step, start=N, unsub_every=0)
    newer: list[PlannedContact] = []
    for p in plans:
        if p.key in gone:
            continue
        if p.key in renamed:
            p = _renamed(p, first_name, "Renamed " + p.key)
        if p.key in unsubscribed:
            p = replace(p, status=BME_INACTIVE, secondary=BME_UNSUBSCRIBE)
        newer.append(p)
    newer += new
    _edit_in_benchmark(box, edited)

    box.app.reset_counts()
    delta = load(newer, _settings(box, account, tmp_path, "second"), clock=clock)
    served = box.app.request_counts()
    elapsed = time.monotonic() - started

    changed = len(renamed) + len(unsubscribed) + len(new)
    assert delta.requests == served
    assert served["PUT /api/contact/{contactId}"] == len(renamed)
    assert served["PATCH /api/contact/{contactId}"] == len(unsubscribed)
    assert served["POST /api/contact"] == len(new)
    assert "GET /api/contact/{contactId}" not in served  # the __v our last write left was reused
    # reads: the searches and one export probe (404 by default; remembered, so the next run skips it)
    assert served.get(EXPORT, 0) <= 1
    assert sum(served.values()) <= served[SEARCH] + served.get(EXPORT, 0) + changed, served
    assert served[SEARCH] <= N // 100 + 10, served  # the index read
    assert delta.rows == {
        "updated": len(renamed) + len(unsubscribed),
        "created": len(new),
        "unchanged": len(newer) - len(renamed) - len(unsubscribed) - len(new),
    }

    have = account_contacts(box.app)
    assert len(have) == N + len(new)  # the people gone from the export are still there
    for p in newer:
        c = have[p.key]
        fields = dict(c.fields)
        if p.key in renamed:
            assert fields[first_name] == "Renamed " + p.key
        if p.key in edited:
            assert fields[last_name] == edited[p.key][1]  # Benchmark's edit kept
        assert c.status == (BME_INACTIVE if p.key in unsubscribed else "Active"), p.key

    with Ledger.open(tmp_path, lock=False) as ledger:
        section = ledger.run("second").changes_since_last_run()
    assert section is not None
    assert set(section["updated"]["keys"]) == renamed
    assert set(section["unsubscribed"]["keys"]) == unsubscribed
    assert set(section["new"]["keys"]) == {p.key for p in new}
    assert set(section["gone_from_source"]["keys"]) == gone
    assert section["conflicts"]["count"] == len(edited)
    by_key = {c["key"]: c for c in section["conflicts"]["items"]}
    key, (_, value) = next(iter(edited.items()))
    original = dict(next(p for p in plans if p.key == key).fields)[last_name]
    assert by_key[key] == {
        "key": key,
        "field": last_name,
        "source": original,
        "benchmark": value,
        "base": original,
    }
    print(f"delta test over {N} contacts: {elapsed:.1f} s")


def test_source_wins_on_conflict_and_a_stale_version_costs_one_get(sandbox_factory, tmp_path: Path) -> None:
    """``--on-conflict source`` writes the source over an edit made in Benchmark; a contact renamed in the
    source *and* edited in Benchmark meanwhile has moved past our ``__v``: the PUT is refused once
    (``ConcurrencyError``), read again and retried, and the edit of the other field survives."""
    box, account, clock = _open(sandbox_factory)
    first_name, last_name = account.field_ids[0], account.field_ids[1]
    plans = make_plans(account, 20, unsub_every=0)
    load(plans, _settings(box, account, tmp_path, "first"), clock=clock)
    both, conflict_only = plans[0], plans[1]
    _edit_in_benchmark(box, {both.key: (last_name, "Edited"), conflict_only.key: (last_name, "Edited")})
    newer = [_renamed(both, first_name, "Renamed"), *plans[1:]]

    box.app.reset_counts()
    delta = load(newer, _settings(box, account, tmp_path, "second"), clock=clock)
    served = box.app.request_counts()
    assert delta.rows == {"updated": 1, "unchanged": 19}
    # PUT refused as stale, GET, PUT again; the pure conflict is kept: no write
    assert served["PUT /api/contact/{contactId}"] == 2 and served["GET /api/contact/{contactId}"] == 1
    fields = dict(account_contacts(box.app)[both.key].fields)
    assert fields[first_name] == "Renamed" and fields[last_name] == "Edited"

    box.app.reset_counts()
    wins = load(newer, _settings(box, account, tmp_path / "x", "third"), clock=clock)
    assert wins.rows == {"unchanged": 20}  # another state dir never wrote them: merge, edits kept

    box.app.reset_counts()
    source = load(newer, _settings(box, account, tmp_path, "fourth", on_conflict="source"), clock=clock)
    assert source.rows == {"updated": 2, "unchanged": 18}
    have = account_contacts(box.app)
    for p in (both, conflict_only):
        assert dict(have[p.key].fields)[last_name] == dict(p.fields)[last_name]


@pytest.mark.parametrize("side", ["target", "source"])
def test_a_rerun_of_the_delta_writes_nothing(sandbox_factory, tmp_path: Path, side: str) -> None:
    box, account, clock = _open(sandbox_factory)
    plans = make_plans(account, 30, unsub_every=0)
    load(plans, _settings(box, account, tmp_path, "first"), clock=clock)
    newer = [_renamed(p, account.field_ids[0], "R") if i % 3 == 0 else p for i, p in enumerate(plans)]
    load(newer, _settings(box, account, tmp_path, "second", on_conflict=side), clock=clock)
    box.app.reset_counts()
    again = load(newer, _settings(box, account, tmp_path, "third", on_conflict=side), clock=clock)
    assert again.rows == {"unchanged": 30}
    assert not any(ep in WRITES for ep in box.app.request_counts())
