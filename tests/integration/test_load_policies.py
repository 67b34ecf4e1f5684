"""Existing contacts, case-insensitive keys, consent, auth and secrets — over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import AuthError, ConfigError
from etl.load.ledger import Ledger
from etl.load.run import LoadSettings, load
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact
from etl.sandbox.knobs import READONLY_KEY, Knobs
from tests.load_support import account_contacts, make_plans, setup_account


@pytest.fixture
def target(sandbox_factory):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9), clock=clock)
    return box, setup_account(box.url, box.api_key), clock


def _settings(box, account, state_dir: Path, key: str | None = None, **kw) -> LoadSettings:  # type: ignore[no-untyped-def]
    return LoadSettings(box.url, Secret(key or box.api_key), state_dir, account.structure_id, "run", **kw)


def _seed(box, account, body: dict) -> str:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        r = http.post("/api/contact", json={"contactStructureId": account.structure_id, **body})
        assert r.status_code == 200, r.text
        return r.json()["_id"]


@pytest.mark.parametrize(
    ("policy", "company", "outcome"),
    [("merge", "Old Co", "updated"), ("overwrite", "New Co", "updated"), ("skip", "Old Co", "skipped")],
)
def test_on_existing_policies(target, tmp_path: Path, policy: str, company: str, outcome: str) -> None:
    box, account, clock = target
    f_first, _, f_company, f_city = account.field_ids
    l1, l2 = account.list_ids
    _seed(
        box,
        account,
        {"key": "jane@x.com", "fields": [{"_id": f_company, "value": "Old Co"}], "lists": [{"_id": l1}]},
    )
    plan = PlannedContact(
        "jane@x.com", (1,), tuple(sorted([(f_first, "Jane"), (f_company, "New Co")])), (l2,)
    )
    box.app.reset_counts()
    summary = load([plan], _settings(box, account, tmp_path, on_existing=policy), clock=clock)
    assert summary.rows == {outcome: 1}
    c = account_contacts(box.app)["jane@x.com"]
    fields = dict(c.fields)
    assert fields[f_company] == company
    if policy == "skip":
        assert f_first not in fields and c.lists == [l1]
        # the probe only: 1000 refused ("must not exceed 100"), then 100
        assert box.app.request_counts() == {"POST /api/contact/search": 2}
    else:
        assert fields[f_first] == "Jane" and sorted(c.lists) == sorted([l1, l2])
        served = box.app.request_counts()
        assert served["GET /api/contact/{contactId}"] == 1 and served["PUT /api/contact/{contactId}"] == 1


def test_unsubscribe_applies_to_existing_and_inactive_is_never_reactivated(target, tmp_path: Path) -> None:
    box, account, clock = target
    _seed(box, account, {"key": "active@x.com"})
    _seed(box, account, {"key": "gone@x.com", "status": {"primary": "Inactive", "secondary": "Unsubscribe"}})
    plans = [
        PlannedContact("active@x.com", (1,), status=BME_INACTIVE, secondary=BME_UNSUBSCRIBE),
        PlannedContact("gone@x.com", (2,)),
    ]
    box.app.reset_counts()
    summary = load(plans, _settings(box, account, tmp_path, on_existing="skip"), clock=clock)
    assert summary.rows == {"updated": 1, "unchanged": 1}
    have = account_contacts(box.app)
    assert have["active@x.com"].status == "Inactive" and have["gone@x.com"].status == "Inactive"
    assert box.app.request_counts().get("PATCH /api/contact/{contactId}") == 1


@pytest.mark.parametrize("existing", [10, 250], ids=["index-by-paging", "index-by-batched-search"])
def test_mixed_case_key_in_account_is_never_created_twice(target, tmp_path: Path, existing: int) -> None:
    """Sandbox default: EQ is case-sensitive, uniqueness is not. ``Jane@X.com`` exists; we plan jane@x.com."""
    box, account, clock = target
    seeded = make_plans(account, existing, domain="seed.example")
    load(seeded, _settings(box, account, tmp_path / "seed"), clock=clock)
    _seed(box, account, {"key": "Jane@X.com"})
    plans = [
        PlannedContact("jane@x.com", (1,), lists=(account.list_ids[0],)),
        *make_plans(account, 3, start=10_000),
    ]
    summary = load(plans, _settings(box, account, tmp_path / "run"), clock=clock)
    # batched EQ misses Jane@X.com; the DuplicateFieldError on create sends the loader paging instead
    assert summary.index_strategy == ("paging" if existing < 100 else "batched")
    assert summary.rows == {"updated": 1, "created": 3}
    have = account_contacts(box.app)
    assert not isinstance(have["jane@x.com"], list) and have["jane@x.com"].lists == [account.list_ids[0]]
    assert len(have) == existing + 4


def test_missing_write_scope_is_an_auth_error_naming_it(target, tmp_path: Path) -> None:
    box, account, clock = target
    with pytest.raises(AuthError, match="contacts:write") as info:
        load(make_plans(account, 2), _settings(box, account, tmp_path, key=READONLY_KEY), clock=clock)
    assert info.value.exit_code == 4
    with Ledger.open(tmp_path, lock=False) as ledger:
        assert ledger.run("run").row_totals() == {"pending": 2}  # nothing counted as sent


def test_two_runs_cannot_share_a_state_dir(target, tmp_path: Path) -> None:
    box, account, clock = target
    with Ledger.open(tmp_path), pytest.raises(ConfigError, match="another bme-migrate run"):
        load(make_plans(account, 1), _settings(box, account, tmp_path), clock=clock)


def test_api_key_never_reaches_the_state_dir_or_errors(target, tmp_path: Path) -> None:
    box, account, clock = target
    secret = "bme_us_leakcheck0123456789abcdefghijklmnopqrstu"
    with pytest.raises(AuthError) as info:
        load(make_plans(account, 2), _settings(box, account, tmp_path, key=secret), clock=clock)
    assert secret not in str(info.value)
    load(make_plans(account, 5), _settings(box, account, tmp_path / "ok"), clock=clock)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and box.api_key.encode() not in data, path


def test_raw_case_variant_is_searched_so_no_create_is_wasted(target, tmp_path: Path) -> None:
    box, account, clock = target
    load(
        make_plans(account, 250, domain="seed.example"),
        _settings(box, account, tmp_path / "seed"),
        clock=clock,
    )
    _seed(box, account, {"key": "Jane@X.com"})
    box.app.reset_counts()
    plans = [PlannedContact("jane@x.com", (1,)), *make_plans(account, 3, start=10_000)]
    summary = load(
        plans, _settings(box, account, tmp_path / "run"), clock=clock, variants={"jane@x.com": ["Jane@X.com"]}
    )
    assert summary.index_strategy == "batched" and summary.rows == {"unchanged": 1, "created": 3}
    assert box.app.request_counts()["POST /api/contact"] == 3  # none refused as a duplicate
