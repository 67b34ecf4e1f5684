"""``verify`` over real HTTP: a migration into the sandbox verifies clean; each kind of tampering (done in
the sandbox's store, as the API forbids some of it) is caught with the key and the field named; policies,
sampling and the request bill."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import ConfigError
from etl.load.run import LoadSettings, load
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, PlannedContact
from etl.pipeline.migration import MigrateOptions, migrate
from etl.sandbox.knobs import Knobs
from etl.sandbox.server import LocalSandbox
from etl.verify.compare import describe
from etl.verify.readback import ReadPlan
from etl.verify.verifier import VerifyOptions, VerifyResult, verify
from tests.load_support import make_plans, setup_account

ROOT = Path(__file__).resolve().parents[2]
MAILCHIMP = str(ROOT / "samples" / "mailchimp_audience.zip")
SEARCH = "POST /api/contact/search"


def _migrate(box: LocalSandbox, state: Path, reports: Path) -> str:
    opts = MigrateOptions(
        sources=(MAILCHIMP,),
        create_fields=True,
        create_lists=True,
        create_tags=True,
        report_dir=reports,
        resume_command="bme-migrate migrate members.zip",
    )
    result = migrate(opts, box.url, Secret(box.api_key), state, clock=FakeClock())
    assert result.state == "complete"
    return result.run_id


def _verify(box: LocalSandbox, state: Path, **kw: Any) -> tuple[VerifyResult, list[ReadPlan]]:
    plans: list[ReadPlan] = []
    result = verify(state, box.url, Secret(box.api_key), VerifyOptions(**kw), on_plan=plans.append)
    return result, plans


def _row(box: LocalSandbox, key: str) -> Any:
    store = box.app.store
    return next(r for r in store.contacts_by_ids(store.all_contact_ids()) if r.key == key)


def _swap(box: LocalSandbox, key: str, **changes: Any) -> None:
    """Tamper with a stored contact directly (bypassing the API's rules, e.g. re-activation)."""
    store = box.app.store
    with store.lock:
        row = _row(box, key)
        store.replace_contact(row, dataclasses.replace(row, **changes))


@pytest.fixture
def migrated(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The Mailchimp sample migrated into a sandbox whose uniqueness rule allows case variants."""
    box = sandbox_factory(knobs=Knobs(unique_match="sensitive", hourly_limit=10**6, monthly_limit=10**9))
    run_id = _migrate(box, tmp_path / "state", tmp_path / "reports")
    return box, tmp_path / "state", run_id


def test_a_fresh_migration_verifies_clean_with_searches_only(migrated) -> None:
    box, state, run_id = migrated
    box.app.reset_counts()
    result, plans = _verify(box, state)
    assert result.run_id == run_id and result.clean, [describe(m) for m in result.mismatches]
    assert result.checked == 6 == result.ok and not result.sampled
    assert result.not_checked["rejected"] == 1 and result.not_checked["failed"] == 0
    assert [x.name for x in result.lists] == ["Mailchimp audience"]
    assert (result.lists[0].expected, result.lists[0].actual, result.lists[0].total_records) == (6, 6, 6)
    assert len(plans) == 1 and plans[0].total == sum(result.requests.values())
    assert set(box.app.request_counts()) == {SEARCH}  # never a write, not even a GET of the structure
    assert box.app.request_counts()[SEARCH] == plans[0].total


def _field_id(box: LocalSandbox, label: str) -> str:
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        s = http.get("/api/contact-structure").json()[0]
    return next(f["_id"] for f in s["fields"] if f["label"] == label)


def _tamper_field(box: LocalSandbox) -> tuple[str, str]:
    fid = _field_id(box, "Company")
    row = _row(box, "ada.abbott@example.com")
    _swap(box, row.key, fields=[(f, "Acme" if f == fid else v) for f, v in row.fields])
    return (
        "field",
        f'ada.abbott@example.com: field "Company" (id {fid}) is "Acme" in the account, expected "Lorem Co."',
    )


def _tamper_list(box: LocalSandbox) -> tuple[str, str]:
    _swap(box, "bruno.brandt@example.org", lists=[])
    return "list", 'bruno.brandt@example.org: list "Mailchimp audience" missing'


def _tamper_tag(box: LocalSandbox) -> tuple[str, str]:
    _swap(box, "eunji.eriksen@example.net", tags=[])
    return "tag", 'eunji.eriksen@example.net: tag "VIP" missing'


def _tamper_reactivate(box: LocalSandbox) -> tuple[str, str]:
    _swap(box, "farah.fischer@example.org", status="Active", secondary=None)
    return "status", "farah.fischer@example.org: status Active, expected Inactive/Unsubscribe (re-activated?)"


def _tamper_delete(box: LocalSandbox) -> tuple[str, str]:
    store = box.app.store
    with store.lock:
        store.delete_contact(_row(box, "gustavo.garcia@example.com"))
    return "missing", "gustavo.garcia@example.com: not found in the account"


def _tamper_duplicate(box: LocalSandbox) -> tuple[str, str]:
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        sid = http.get("/api/contact-structure").json()[0]["_id"]
        r = http.post("/api/contact", json={"key": "Ada.Abbott@Example.com", "contactStructureId": sid})
        assert r.status_code == 200, r.text  # unique_match="sensitive" lets a case variant in
    return (
        "duplicate",
        'ada.abbott@example.com: 2 contacts share this key ("Ada.Abbott@Example.com", "ada.abbott@example.com")',
    )


@pytest.mark.parametrize(
    "tamper",
    [_tamper_field, _tamper_list, _tamper_tag, _tamper_reactivate, _tamper_delete, _tamper_duplicate],
    ids=lambda f: f.__name__.removeprefix("_tamper_"),
)
def test_each_kind_of_tampering_is_caught_naming_key_and_field(migrated, tamper) -> None:  # type: ignore[no-untyped-def]
    box, state, _ = migrated
    kind, line = tamper(box)
    box.app.reset_counts()
    result, _ = _verify(box, state)
    assert not result.clean
    assert [m.kind for m in result.mismatches] == [kind]
    assert describe(result.mismatches[0]) == line
    assert result.ok == result.checked - 1
    assert set(box.app.request_counts()) == {SEARCH}
    if kind == "list":
        (x,) = result.lists
        assert (x.expected, x.actual, x.total_records) == (6, 5, 5)


def test_run_prefix_unknown_run_and_another_target_are_refused(migrated, sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    box, state, run_id = migrated
    result, _ = _verify(box, state, run=run_id[:6])
    assert result.run_id == run_id and result.clean
    with pytest.raises(ConfigError, match="no run 'zzz'"):
        _verify(box, state, run="zzz")
    other = sandbox_factory()
    with pytest.raises(ConfigError, match="verify needs the same target"):
        _verify(other, state)
    # the embedded sandbox of this state dir is any loopback URL, but its structure must exist there
    with pytest.raises(ConfigError, match="contact structure .* is not in the target"):
        verify(state, other.url, Secret(other.api_key), VerifyOptions(embedded=True))
    assert other.app.request_counts() == {SEARCH: 1}


# --- policies: what was in the account before the run ---------------------------------------------------------
@pytest.fixture
def account_box(sandbox_factory):  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9), clock=FakeClock())
    return box, setup_account(box.url, box.api_key)


def _seed(box: LocalSandbox, sid: str, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        r = http.post("/api/contact", json={"contactStructureId": sid, **body})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("policy", ["merge", "overwrite", "skip"])
def test_existing_contacts_are_judged_under_the_runs_policy(account_box, tmp_path: Path, policy: str) -> None:
    box, account = account_box
    f_first, _, f_company, _ = account.field_ids
    l1, l2 = account.list_ids
    _seed(
        box,
        account.structure_id,
        {"key": "jane@x.com", "fields": [{"_id": f_company, "value": "Old Co"}], "lists": [{"_id": l1}]},
    )
    _seed(
        box,
        account.structure_id,
        {"key": "Gone@X.com", "status": {"primary": BME_INACTIVE, "secondary": BME_UNSUBSCRIBE}},
    )
    plans = [
        PlannedContact("gone@x.com", (2,), ((f_first, "Gone"),), (l2,)),
        PlannedContact("jane@x.com", (1,), tuple(sorted([(f_first, "Jane"), (f_company, "New Co")])), (l2,)),
    ]
    settings = LoadSettings(
        box.url,
        Secret(box.api_key),
        tmp_path,
        account.structure_id,
        "policyrun",
        on_existing=policy,
        resume_command=f"bme-migrate migrate x.csv --on-existing {policy}",
    )
    load(plans, settings, clock=FakeClock())
    result, _ = _verify(box, tmp_path)
    assert result.policy == policy
    assert result.clean, [describe(m) for m in result.mismatches]
    if policy == "skip":  # fields/lists differ from the plan: skipped rows are counted, not checked
        assert result.checked == 0 and result.not_checked["skipped"] == 2
        return
    assert result.checked == 2
    # an Active in the export over an Inactive account contact: a note, never a mismatch
    assert any("gone@x.com: kept Inactive/Unsubscribe" in n for n in result.notes)
    # under merge the account's earlier value is the expected one; under overwrite ours is
    row = _row(box, "jane@x.com")
    flipped = "New Co" if policy == "merge" else "Old Co"
    _swap(box, row.key, fields=[(f, flipped if f == f_company else v) for f, v in row.fields])
    again, _ = _verify(box, tmp_path)
    (m,) = again.mismatches
    assert (m.key, m.kind, m.field_id, m.actual) == ("jane@x.com", "field", f_company, flipped)
    assert m.expected == ("Old Co" if policy == "merge" else "New Co")


# --- price, budget and sampling -------------------------------------------------------------------------------
@pytest.fixture
def big_run(sandbox_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """250 contacts loaded into a sandbox that pages 10 at a time with 400 requests an hour."""
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(max_page_size=10, hourly_limit=400), clock=clock)
    account = setup_account(box.url, box.api_key)
    plans = make_plans(account, 250)
    settings = LoadSettings(box.url, Secret(box.api_key), tmp_path, account.structure_id, "bigrun")
    load(plans, settings, clock=clock)
    clock.advance(3600)  # a fresh hourly window
    box.app.reset_counts()
    return box, clock


def test_sample_checks_exactly_n_keys_and_costs_what_the_plan_said(big_run, tmp_path: Path) -> None:
    box, _ = big_run
    result, (plan,) = _verify(box, tmp_path, sample=15)
    assert result.clean and result.checked == 15 and result.sampled and plan.sampled
    assert plan.strategy == "batched"  # 2 key searches + 2 list totals beat 24 more pages
    assert (plan.probe, plan.reads, plan.list_counts) == (1, 2, 2)
    assert sum(result.requests.values()) == plan.total == box.app.request_counts()[SEARCH]
    assert set(box.app.request_counts()) == {SEARCH}
    assert {x.total_records for x in result.lists} == {250, 125}
    assert sum(x.expected for x in result.lists) == sum(x.actual for x in result.lists) > 15
    again, _ = _verify(box, tmp_path, sample=15)
    assert again.to_dict()["mismatches"] == [] and again.checked == 15  # same seeded sample, same bill


def test_without_sample_all_keys_fit_in_a_tenth_of_the_budget(big_run, tmp_path: Path) -> None:
    box, _ = big_run
    result, (plan,) = _verify(box, tmp_path)
    assert plan.strategy == "paging" and plan.reads == 24 and plan.total == 25  # 24 ≤ 399 // 10
    assert result.checked == 250 and not result.sampled and result.clean
    assert box.app.request_counts() == {SEARCH: 25}


def test_a_tight_budget_gets_a_sample_sized_to_fit(big_run, tmp_path: Path) -> None:
    box, _ = big_run
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        for _ in range(200):  # another integration spent half of this hour's budget
            assert http.get("/api/contact-structure").status_code == 200
    box.app.reset_counts()
    result, (plan,) = _verify(box, tmp_path)
    # 199 left after the probe → 19 requests to spend: 2 list totals + 17 batches of 10 keys
    assert plan.remaining == 199 and plan.sampled and "sample of 170 of 250" in plan.reason
    assert result.checked == 170 and result.sampled and result.clean
    assert plan.total == 20 == sum(result.requests.values()) == box.app.request_counts()[SEARCH]


def test_server_errors_are_retried_like_the_load_does(sandbox_factory, tmp_path: Path) -> None:
    """Same URL, same database, now failing 30% of requests with 500: verify still answers, clean."""
    db = tmp_path / "sandbox.db"
    clean_box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9), db=db)
    _migrate(clean_box, tmp_path / "state", tmp_path / "reports")
    port = int(clean_box.url.rsplit(":", 1)[1])
    clean_box.stop()
    flaky = LocalSandbox(db, Knobs(fail_rate=0.3, seed=4, hourly_limit=10**6, monthly_limit=10**9), port=port)
    try:
        clock = FakeClock()
        result = verify(
            tmp_path / "state", flaky.url, Secret(flaky.api_key), VerifyOptions(sample=6), clock=clock
        )
        assert result.clean and result.checked == 6
        assert sum(result.requests.values()) == flaky.app.request_counts()[SEARCH] >= result.plan.total
        assert len(clock.sleeps) == 2  # two 500s (seed 4) backed off on the injected clock
    finally:
        flaky.stop()
