"""Request efficiency over real HTTP: counted by the sandbox *and* by the ledger, which must agree.

Budgets (N contacts, 10% unsubscribed): status accepted on create ≤ 1.03·N + 10; status ignored or
rejected on create ≤ 1.13·N + 10; a re-run of a finished plan, with its state dir or from an empty one,
writes nothing and costs ≤ N/100 + 10; with half the keys already present, only the new half is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.load.run import LoadSettings, load
from etl.sandbox.knobs import Knobs
from tests.load_support import Account, assert_matches_plan, make_plans, setup_account

N = 5000
WRITES = ("POST /api/contact", "PUT /api/contact/{contactId}", "PATCH /api/contact/{contactId}")


def _open(sandbox_factory, **knobs):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9, **knobs), clock=clock)
    account = setup_account(box.url, box.api_key)
    box.app.reset_counts()
    return box, account, clock


def _settings(box, account: Account, state_dir: Path, run_id: str = "run", **kw) -> LoadSettings:  # type: ignore[no-untyped-def]
    return LoadSettings(box.url, Secret(box.api_key), state_dir, account.structure_id, run_id, **kw)


def _writes(counts: dict[str, int]) -> int:
    return sum(n for ep, n in counts.items() if ep in WRITES)


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "factor"), [("accept", 1.03), ("ignore", 1.13)])
def test_fresh_account_costs_about_one_request_per_contact(
    sandbox_factory, tmp_path: Path, mode: str, factor: float
) -> None:
    box, account, clock = _open(sandbox_factory, status_on_create=mode)
    plans = make_plans(account, N)
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    served = box.app.request_counts()
    assert summary.requests == served
    assert sum(served.values()) <= factor * N + 10, served
    assert summary.state == "complete" and summary.rows == {"created": N}
    assert_matches_plan(box.app, plans)

    # the same command again (same state dir), and from an empty state dir: nothing written
    for state_dir, run_id in ((tmp_path, "run"), (tmp_path / "fresh", "other")):
        box.app.reset_counts()
        again = load(plans, _settings(box, account, state_dir, run_id), clock=clock)
        served = box.app.request_counts()
        assert _writes(served) == 0 and sum(served.values()) <= N / 100 + 10, served
        assert again.rows in ({"created": N}, {"unchanged": N})


@pytest.mark.parametrize(("mode", "creates"), [("ignore", 300), ("reject", 301)])
def test_small_fresh_account_counts_agree(sandbox_factory, tmp_path: Path, mode: str, creates: int) -> None:
    """The fast twin of the slow test above (300 contacts): a status the account ignores or rejects on
    create is learned from the first unsubscribed contact (one refused create when rejected), then each
    unsubscribed contact costs create + PATCH."""
    box, account, clock = _open(sandbox_factory, status_on_create=mode)
    plans = make_plans(account, 300)
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    served = box.app.request_counts()
    assert summary.requests == served
    assert served["PATCH /api/contact/{contactId}"] == 30 and served["POST /api/contact"] == creates
    assert sum(served.values()) <= 1.13 * 300 + 10
    assert_matches_plan(box.app, plans)


def test_half_existing_unchanged_writes_only_the_new_half(sandbox_factory, tmp_path: Path) -> None:
    n = 400
    box, account, clock = _open(sandbox_factory)
    plans = make_plans(account, n)
    load(plans[: n // 2], _settings(box, account, tmp_path / "first", "first"), clock=clock)
    box.app.reset_counts()
    summary = load(plans, _settings(box, account, tmp_path / "second", "second"), clock=clock)
    served = box.app.request_counts()
    assert summary.requests == served
    assert _writes(served) == served["POST /api/contact"] == n // 2
    assert sum(served.values()) <= n // 2 * 1.03 + n / 100 + 10
    assert summary.rows == {"created": n // 2, "unchanged": n // 2}
    assert_matches_plan(box.app, plans)


def test_tags_ignored_on_create_are_fixed_with_one_put(sandbox_factory, tmp_path: Path) -> None:
    box, account, clock = _open(sandbox_factory, tags_on_create="ignore")
    plans = make_plans(account, 90)
    tagged = sum(1 for p in plans if p.tags)
    load(plans, _settings(box, account, tmp_path), clock=clock)
    served = box.app.request_counts()
    assert served["PUT /api/contact/{contactId}"] == tagged
    assert "GET /api/contact/{contactId}" not in served  # the create response carried __v
    assert_matches_plan(box.app, plans)


def test_a_plan_read_in_small_chunks_loads_exactly_the_same(sandbox_factory, tmp_path: Path) -> None:
    """The loader reads the plan from the ledger a chunk at a time (memory holds a chunk, not the run):
    with 7-contact chunks, half the keys already present, the result and the cost equal one pass's."""
    from etl.load.ledger import Ledger

    def load_in_chunks(plans, settings):  # type: ignore[no-untyped-def]
        with Ledger.open(settings.state_dir, chunk=7) as ledger:
            return load(plans, settings, clock=clock, ledger=ledger)

    box, account, clock = _open(sandbox_factory)
    plans = make_plans(account, 60)
    load_in_chunks(plans[::2], _settings(box, account, tmp_path / "first", "first"))
    box.app.reset_counts()
    summary = load_in_chunks(plans, _settings(box, account, tmp_path / "second"))
    assert summary.state == "complete" and summary.rows == {"created": 30, "unchanged": 30}
    assert _writes(box.app.request_counts()) == 30 + sum(p.status != "Active" for p in plans[1::2])
    assert_matches_plan(box.app, plans)
