"""Issue #12 items 1 and 2 over real HTTP on loopback: outages are ridden out (``--max-outage``) and a spent
monthly quota is slept through (``--wait-for-quota``), exactly once, in one invocation.

The CLI's clock is the injected one: ``etl.commands.migrate`` builds ``StoppableClock(SystemClock(), stop)``
and the test hands it a ``FakeClock`` shared with the sandbox, so a 90 s outage or a 3-day quota wait costs
no real time. The outage is the sandbox's ``outage_after``/``outage_seconds`` knob: after that many requests
every request, for that long on the clock, has its connection closed without an answer.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from etl.clock import FakeClock
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts, people_csv

N = 30


def _csv(tmp_path: Path) -> Path:
    return people_csv(tmp_path, N)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock the CLI's waits run on (pacing, backoff, outage and quota waits)."""
    fake = FakeClock()
    monkeypatch.setattr("etl.commands.migrate.SystemClock", lambda: fake)
    return fake


def _args(tmp_path: Path, *extra: str) -> list[str]:
    out = [
        "migrate",
        str(_csv(tmp_path)),
        "--preset",
        "generic",
        "--no-verify",
        "--state-dir",
        str(tmp_path / "s"),
    ]
    return [*out, "--report-dir", str(tmp_path / "r"), *extra]


def _exactly_once(box, state: Path) -> None:  # type: ignore[no-untyped-def]
    contacts = account_contacts(box.app)
    assert len(contacts) == N and all(not isinstance(v, list) for v in contacts.values())
    (ours,) = sqlite3.connect(state / "ledger.db").execute("SELECT SUM(count) FROM requests").fetchone()
    assert ours == sum(box.app.request_counts().values())  # every attempt counted, the failed ones too


def test_a_90s_outage_mid_run_is_waited_out_in_one_invocation(  # type: ignore[no-untyped-def]
    run, sandbox_factory, clock: FakeClock, tmp_path: Path
) -> None:
    # the connection closed for 90 s of the clock, and some writes applied whose answers are lost besides
    knobs = Knobs(outage_after=12, outage_seconds=90, outage_status=0, lost_response_rate=0.15, seed=5)
    box = sandbox_factory(knobs=knobs, clock=clock)
    result = run(_args(tmp_path), {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key})
    assert result.exit_code == 0, result.output
    assert box.app.faults.outage_started is not None
    lines = result.output.splitlines()
    started = [x for x in lines if "is failing" in x and "waiting it out for up to 6h 0m" in x]
    ended = [x for x in lines if "is back after" in x]
    assert len(started) == 1 and len(ended) == 1, result.output
    took = re.search(r"is back after (\d+)m (\d+)s", ended[0])
    assert took and 90 <= int(took[1]) * 60 + int(took[2]) <= 90 + 300  # the outage, then one backoff ≤ 5 min
    assert not [x for x in lines if "network error" in x and x not in started]  # not one line per retry
    _exactly_once(box, tmp_path / "s")
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["rows"]["created"] == N
    # a monitor following events.jsonl sees the outage begin and end, with how long it lasted
    events = [json.loads(x) for x in (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    outage = [e for e in events if e["event"] in ("outage_start", "outage_end")]
    assert [e["event"] for e in outage] == ["outage_start", "outage_end"], outage
    assert outage[1]["recovered"] is True and 90 <= outage[1]["seconds"] <= 90 + 300


def test_an_outage_longer_than_max_outage_pauses_and_the_resume_completes(  # type: ignore[no-untyped-def]
    run, sandbox_factory, clock: FakeClock, tmp_path: Path
) -> None:
    knobs = Knobs(outage_after=12, outage_seconds=90, outage_status=503)
    box = sandbox_factory(knobs=knobs, clock=clock)
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    paused = run(_args(tmp_path, "--max-outage", "30s"), env)
    assert paused.exit_code == 75, paused.output
    assert "giving up for now" in paused.output and "to resume, run: bme-migrate migrate" in paused.output
    assert "--max-outage 30s" in paused.output  # the printed command keeps the flag
    assert 0 < len(account_contacts(box.app)) < N
    clock.advance(120)  # later: the outage is over
    done = run(_args(tmp_path, "--max-outage", "30s"), env)
    assert done.exit_code == 0, done.output
    _exactly_once(box, tmp_path / "s")


def test_max_outage_0_pauses_after_a_few_retries_as_before(  # type: ignore[no-untyped-def]
    run, sandbox_factory, clock: FakeClock, tmp_path: Path
) -> None:
    box = sandbox_factory(knobs=Knobs(outage_after=12, outage_seconds=90), clock=clock)
    start = clock.now()
    paused = run(_args(tmp_path, "--max-outage", "0"), {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key})
    assert paused.exit_code == 75, paused.output
    assert "the target keeps failing" in paused.output and "is failing" not in paused.output
    assert clock.now() - start < 60  # six attempts with a short backoff, no outage wait


@pytest.fixture
def quota_box(sandbox_factory, clock: FakeClock):  # type: ignore[no-untyped-def]
    """A sandbox whose monthly quota (25 requests) runs out mid-run and resets in three days."""
    return sandbox_factory(knobs=Knobs(monthly_limit=25, period_end=clock.now() + 3 * 86400), clock=clock)


def test_wait_for_quota_sleeps_to_the_reset_and_completes(
    run, quota_box, clock: FakeClock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = {"BME_BASE_URL": quota_box.url, "BME_API_KEY": quota_box.api_key}
    start = clock.now()
    result = run(_args(tmp_path, "--wait-for-quota"), env)
    assert result.exit_code == 0, result.output
    waits = [x for x in result.output.splitlines() if "monthly API quota exhausted: waiting" in x]
    assert len(waits) == 1 and "(--wait-for-quota)" in waits[0] and "resuming at 20" in waits[0], (
        result.output
    )
    assert "monthly API quota reset: resuming" in result.output
    assert clock.now() - start >= 3 * 86400 - 600  # the wait went through the injected clock
    _exactly_once(quota_box, tmp_path / "s")


def test_a_reset_beyond_max_wait_still_pauses(run, quota_box, clock: FakeClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"BME_BASE_URL": quota_box.url, "BME_API_KEY": quota_box.api_key}
    paused = run(_args(tmp_path, "--wait-for-quota", "--max-wait", "1d"), env)
    assert paused.exit_code == 75, paused.output
    assert "monthly API quota exhausted" in paused.output and "more than --max-wait 1d 0h" in paused.output
    without = run(_args(tmp_path), env)  # today's behaviour without the flag: exit 75 at once
    assert without.exit_code == 75, without.output


def test_bad_durations_are_usage_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(_args(tmp_path, "--max-outage", "soon"))
    assert result.exit_code == 2 and "--max-outage 'soon': expected a duration" in result.output
