"""Shared set-up for the load stage's tests and benchmark: an account with fields, lists and tags, and plans.

Everything goes through the sandbox's real HTTP API (as a user's structure PUT and list creation would),
except ``account_contacts``, which reads the sandbox's store directly to check the end state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact


@dataclass(frozen=True)
class Account:
    structure_id: str
    field_ids: tuple[str, ...]  # First Name, Last Name, Company, City
    list_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]


def setup_account(url: str, api_key: str) -> Account:
    with httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=10, trust_env=False) as http:
        s = http.get("/api/contact-structure").json()[0]
        if len(s["fields"]) < 4 or len(s["tags"]) < 2:
            body = {
                "label": s["label"],
                "keyName": s["keyName"],
                "__v": s["__v"],
                "fields": [
                    *s["fields"],
                    {"label": "Company", "dataType": "text"},
                    {"label": "City", "dataType": "text"},
                ],
                "tags": [{"label": "VIP"}, {"label": "Lead"}],
            }
            r = http.put(f"/api/contact-structure/{s['_id']}", json=body)
            assert r.status_code == 200, r.text
            s = r.json()
        lists_url = f"/api/contact-structure/{s['_id']}/lists"
        existing = http.get(lists_url + "/all").json()
        ids = [x["_id"] for x in existing]
        for name in ("Newsletter", "Customers")[len(ids) :]:
            r = http.post(lists_url, json={"name": name})
            assert r.status_code == 201, r.text
            ids.append(r.json()["_id"])
    return Account(
        s["_id"], tuple(f["_id"] for f in s["fields"]), tuple(ids[:2]), tuple(t["_id"] for t in s["tags"])
    )


def make_plans(
    account: Account,
    n: int,
    *,
    start: int = 0,
    unsub_every: int = 10,
    tags: bool = True,
    domain: str = "example.com",
) -> list[PlannedContact]:
    """``n`` contacts; every ``unsub_every``-th is Inactive/Unsubscribe; row ids are ``start + i``."""
    out = []
    f = account.field_ids
    for i in range(start, start + n):
        fields = sorted([(f[0], f"First{i}"), (f[1], f"Last{i}"), (f[2], f"Co{i % 7}")])
        inactive = unsub_every > 0 and i % unsub_every == 0
        out.append(
            PlannedContact(
                key=f"person{i}@{domain}",
                row_ids=(i,),
                fields=tuple(fields),
                lists=tuple(sorted(account.list_ids[: 1 + i % 2])),
                tags=tuple(sorted(account.tag_ids[:1])) if tags and i % 3 == 0 else (),
                status=BME_INACTIVE if inactive else "Active",
                secondary=BME_UNSUBSCRIBE if inactive else None,
            )
        )
    return out


def account_contacts(app: Any) -> dict[str, Any]:
    """Every contact in the sandbox by lower-cased key; a duplicate key shows up as a list of two."""
    rows = app.store.contacts_by_ids(app.store.all_contact_ids())
    out: dict[str, Any] = {}
    for r in rows:
        k = r.key.lower()
        out[k] = [out[k], r] if k in out else r
    return out


def assert_matches_plan(app: Any, plans: list[PlannedContact]) -> None:
    """Every planned key present exactly once with the planned fields, lists, tags and status."""
    have = account_contacts(app)
    for p in plans:
        c = have.get(p.key)
        assert c is not None, f"{p.key} missing"
        assert not isinstance(c, list), f"{p.key} present twice"
        assert sorted(c.fields) == sorted(p.fields), p.key
        assert sorted(c.lists) == sorted(p.lists), p.key
        assert sorted(c.tags) == sorted(p.tags), p.key
        assert c.status == p.status, (p.key, c.status, p.status)
        if p.status == BME_INACTIVE:
            assert c.secondary == BME_UNSUBSCRIBE


def prepared_sandbox(factory: Any, db: Any, clock: Any = None, **knobs: Any) -> tuple[Any, Account]:
    """A sandbox over file ``db`` whose account was set up fault-free first (faults would hit the set-up)."""
    from etl.sandbox.knobs import Knobs

    clean = factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9), clock=clock, db=db)
    account = setup_account(clean.url, clean.api_key)
    clean.stop()
    box = factory(knobs=Knobs(**{"hourly_limit": 10**9, "monthly_limit": 10**9, **knobs}), clock=clock, db=db)
    return box, account


def people_csv(directory: Path, n: int, *, company: bool = False) -> Path:
    """``directory/contacts.csv`` with ``n`` people ``person<i>@example.com``: ``Email,First Name``, or with
    ``company`` also ``Last Name,Company`` — the export most CLI tests migrate."""
    header = "Email,First Name,Last Name,Company" if company else "Email,First Name"
    rows = [f"person{i}@example.com,First{i}" + (f",Last{i},Co{i}" if company else "") for i in range(n)]
    path = directory / "contacts.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def seed_contacts(app: Any, account: Account, plans: list[PlannedContact]) -> None:
    """Put ``plans`` in the sandbox's store directly, as if an earlier run had created them (fast: one
    transaction, for accounts of tens of thousands of contacts); ids keep creation order."""
    from etl.sandbox.rows import ContactRow, iso

    now = app.clock.now()
    app.store.bulk_insert(
        ContactRow(
            app.store.ids.new(now),
            account.structure_id,
            p.key,
            [(f, v) for f, v in p.fields],
            list(p.lists),
            list(p.tags),
            p.status,
            p.secondary,
            0,
            iso(now),
            iso(now),
        )
        for p in plans
    )


def migrate_into(run: Any, box: Any, sources: list[Path], tmp_path: Path) -> Any:
    """``bme-migrate migrate SOURCES`` into ``box`` over HTTP, creating fields, no read-back, state and
    reports under ``tmp_path`` (the consent tests' one way of running an export)."""
    args = ["migrate", *map(str, sources), "--create-fields", "--no-verify"]
    args += ["--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    return run(args, {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key})


def statuses(box: Any) -> dict[str, str]:
    """Each contact's status in ``box``'s account, by key."""
    return {k: c.status for k, c in account_contacts(box.app).items()}
