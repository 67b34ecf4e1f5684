"""Pacing against the sandbox's budgets: a shrunken real-clock window, a shared account, the monthly quota."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import Paused
from etl.load.ledger import IN_FLIGHT, Ledger
from etl.load.run import LoadSettings, load
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts, assert_matches_plan, make_plans, setup_account


def _settings(box, account, state_dir: Path, **kw) -> LoadSettings:  # type: ignore[no-untyped-def]
    return LoadSettings(box.url, Secret(box.api_key), state_dir, account.structure_id, "run", **kw)


@pytest.mark.slow
def test_real_clock_window_is_used_fully_and_never_exceeded(sandbox_factory, tmp_path: Path) -> None:
    limit, window, reserve = 40, 2, 4
    box = sandbox_factory(knobs=Knobs(hourly_limit=limit, window_seconds=window, monthly_limit=10**9))
    account = setup_account(box.url, box.api_key)
    plans = make_plans(account, 130)
    per_window: dict[str, int] = defaultdict(int)
    lowest: dict[str, int] = {}
    statuses: list[int] = []

    def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)
        reset = response.headers.get("X-RateLimit-Reset")
        if reset is not None:
            per_window[reset] += 1
            remaining = int(response.headers["X-RateLimit-Remaining"])
            lowest[reset] = min(lowest.get(reset, limit), remaining)

    with httpx.Client(event_hooks={"response": [record]}, timeout=10) as http:
        summary = load(plans, _settings(box, account, tmp_path, reserve=reserve), http=http)
    assert summary.rows == {"created": 130}
    assert 429 not in statuses
    windows = sorted(per_window)
    assert len(windows) >= 3
    # every window but the first (shared with the account set-up) and the last (where the work ran out)
    # used at least 90% of what we may use
    for reset in windows[1:-1]:
        assert per_window[reset] >= 0.9 * (limit - reserve), dict(per_window)
    # the reserve was left for others (setup_account's few requests may share the first window)
    assert all(lowest[r] >= reserve for r in windows[1:]), lowest


def test_hourly_429_from_another_integration_waits_and_goes_on(sandbox_factory, tmp_path: Path) -> None:
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=60, monthly_limit=10**9), clock=clock)
    account = setup_account(box.url, box.api_key)
    plans = make_plans(account, 80)
    waits: list[str] = []
    burned = []

    def other_integration(response: httpx.Response) -> None:
        # after our 10th request, someone else spends everything left in the window
        if (
            response.request.url.path == "/api/contact"
            and len(burned) == 0
            and box.app.request_counts().get("POST /api/contact", 0) >= 10
        ):
            burned.append(1)
            with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as other:
                while other.get("/api/contact-structure").status_code == 200:
                    pass

    with httpx.Client(event_hooks={"response": [other_integration]}, timeout=10) as http:
        summary = load(
            plans,
            _settings(box, account, tmp_path),
            clock=clock,
            http=http,
            on_wait=lambda s, reason: waits.append(reason),
        )
    assert summary.rows == {"created": 80}
    assert burned and any("rate limited" in w for w in waits)
    assert_matches_plan(box.app, plans)


@pytest.mark.parametrize(("status", "limit"), [("accept", 60), ("ignore", 60), ("ignore", 63)])
def test_monthly_quota_pauses_with_reset_time_and_resumes_after_it(
    sandbox_factory, tmp_path: Path, status: str, limit: int
) -> None:
    """With status ignored the quota can run out between a create and its status PATCH: limit 63 refuses
    exactly the PATCH of contact 50 (5 set-up requests, 2 probes, then create+PATCH per 10th contact)."""
    clock = FakeClock()
    period_end = clock.now() + 5 * 86400
    box = sandbox_factory(
        knobs=Knobs(hourly_limit=10**6, monthly_limit=limit, period_end=period_end, status_on_create=status),
        clock=clock,
    )
    account = setup_account(box.url, box.api_key)
    plans = make_plans(account, 100)
    with pytest.raises(Paused, match="monthly API quota") as info:
        load(plans, _settings(box, account, tmp_path), clock=clock)
    assert info.value.exit_code == 75 and info.value.resume_after == "2027-01-20T08:00:00Z"
    with Ledger.open(tmp_path, lock=False) as ledger:
        run = ledger.run("run").info()
        assert run is not None and run.state == "paused" and run.resume_after == info.value.resume_after
        stuck = ledger.run("run").contacts([IN_FLIGHT])
        if limit == 63:  # created, status not yet patched: stays in flight, searched on resume
            assert [(c.plan.key, c.op, c.ours) for c in stuck] == [("person50@example.com", "patch", True)]
        else:
            assert stuck == []
        done = ledger.run("run").row_totals()
        assert done["pending"] > 0 and done["created"] > 35
    clock.advance(5 * 86400 + 1)  # the billing period resets
    summary = load(plans, _settings(box, account, tmp_path), clock=clock)
    assert summary.state == "complete" and summary.rows == {"created": 100}
    assert len(account_contacts(box.app)) == 100
    assert_matches_plan(box.app, plans)
