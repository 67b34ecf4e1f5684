"""Issue #13 item 2 and #12 item 7a over real HTTP on loopback: every request to Benchmark, resolution's
included, goes through the one ``BenchmarkClient`` — paced, retried on the injected clock, counted, and
bounded by ``--max-requests``.

Faults come from the sandbox's ``script`` knob: the first requests of a route get the scripted answers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from etl.clock import FakeClock
from etl.config import Secret
from etl.pipeline.migration import MigrateOptions, migrate
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts

N = 12
STRUCTURE = "GET /api/contact-structure"
LISTS_ALL = "GET /api/contact-structure/{contactStructureId}/lists/all"
PUT_STRUCTURE = "PUT /api/contact-structure/{contactStructureId}"


def _csv(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "contacts.csv"
    header = "Email,First Name" + (f",{extra}" if extra else "")
    rows = [f"person{i}@example.com,First{i}" + (f",x{i}" if extra else "") for i in range(N)]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_resolution_rides_out_a_500_and_a_429_on_the_injected_clock(sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    script = {STRUCTURE: ["500"], LISTS_ALL: ["429:40"], PUT_STRUCTURE: ["503"]}
    box = sandbox_factory(knobs=Knobs(script=script), clock=clock)
    opts = MigrateOptions(
        sources=(str(_csv(tmp_path, "Shoe Size")),),
        lists=("Imported",),
        create_fields=True,
        create_lists=True,
        report_dir=tmp_path / "r",
    )
    result = migrate(opts, box.url, Secret(box.api_key), tmp_path / "s", clock=clock)
    assert result.state == "complete"
    counts = box.app.request_counts()
    assert counts[STRUCTURE] == 2 and counts[LISTS_ALL] == 2 and counts[PUT_STRUCTURE] == 2
    # the 429's Retry-After was waited on the clock (the pacer's throttle), the 5xx backoffs too
    assert 40.0 in clock.sleeps
    assert len([s for s in clock.sleeps if 0.25 <= s <= 0.5]) >= 2  # first backoff: 0.5 s, equal jitter
    contacts = account_contacts(box.app)
    assert len(contacts) == N
    # every attempt, the refused ones included, is in the ledger exactly as the server counted it
    db = sqlite3.connect(tmp_path / "s" / "ledger.db")
    (ours,) = db.execute("SELECT SUM(count) FROM requests").fetchone()
    assert ours == sum(counts.values())


def test_max_requests_bounds_resolution_too(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``--max-requests 2`` sends two requests in all (resolution's included), then pauses (exit 75)."""
    box = sandbox_factory()
    state = tmp_path / "s"
    args = ["migrate", str(_csv(tmp_path)), "--preset", "generic", "--no-verify", "--state-dir", str(state)]
    args += ["--report-dir", str(tmp_path / "r")]
    env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    paused = run([*args, "--max-requests", "2"], env)
    assert paused.exit_code == 75, paused.output
    assert "--max-requests 2 reached" in paused.output
    assert sum(box.app.request_counts().values()) == 2  # the structure read and the index probe
    box.app.reset_counts()
    paused = run([*args, "--max-requests", "3"], env)  # the resolution is saved: three load requests
    assert paused.exit_code == 75, paused.output
    assert sum(box.app.request_counts().values()) == 3
    done = run(args, env)
    assert done.exit_code == 0, done.output
    assert len(account_contacts(box.app)) == N


def test_max_requests_bounds_the_read_back_after_the_load(run, sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The verify that follows a complete migration plans within what the load left of ``--max-requests``,
    and is skipped (saying so) when the load spent it: the run never sends more than the cap."""
    args = ["migrate", str(_csv(tmp_path)), "--preset", "generic", "--report-dir", str(tmp_path / "r")]
    free = sandbox_factory()
    done = run(
        [*args, "--no-verify", "--state-dir", str(tmp_path / "free")],
        {"BME_BASE_URL": free.url, "BME_API_KEY": free.api_key},
    )
    assert done.exit_code == 0, done.output
    load_cost = sum(free.app.request_counts().values())  # what the load alone needs

    for extra, verified in ((0, False), (5, True)):
        box = sandbox_factory()
        env = {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
        cap = load_cost + extra
        state = ["--state-dir", str(tmp_path / f"s{extra}")]
        result = run([*args, *state, "--max-requests", str(cap)], env)
        assert result.exit_code == 0, result.output
        assert sum(box.app.request_counts().values()) <= cap  # the read-back included
        assert len(account_contacts(box.app)) == N
        if verified:
            assert "verify:    clean" in result.output, result.output
        else:
            assert f"skipped (--max-requests {cap} is spent)" in result.output, result.output
