"""Issue #15 items 11 and 17: setup requests are retried like the load's; a long Retry-After is not a month.

Real HTTP on loopback against the sandbox and its fault knobs (``fail_rate``: 500 before anything is done;
``lost_response_rate``: the write is applied, then the connection dropped).
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import httpx

from etl.benchmark.client import BenchmarkClient, classify
from etl.benchmark.pacing import Pacer
from etl.benchmark.structure import records
from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import Paused
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.model import FieldColumn
from etl.sandbox.knobs import Knobs
from tests.fixtures.sandbox import client_for, default_structure
from tests.load_support import account_contacts

N = 30
LIST = "Imported 2026"


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    lines = ["Email,First Name,Company,Tags"]
    lines += [f"person{i}@example.com,First{i},Acme {i},{'vip' if i % 2 else 'blog'}" for i in range(N)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _lists(box) -> list[str]:  # type: ignore[no-untyped-def]
    with client_for(box) as c:
        sid = default_structure(c)["_id"]
        return [x["name"] for x in records(c.get(f"/api/contact-structure/{sid}/lists/all").json())]


def test_item11_a_run_completes_through_500s_and_lost_answers_in_resolution(  # type: ignore[no-untyped-def]
    run, sandbox_factory, tmp_path: Path
) -> None:
    box = sandbox_factory(knobs=Knobs(fail_rate=0.2, lost_response_rate=0.1, seed=3))
    state = tmp_path / "s"
    args = ["migrate", str(_csv(tmp_path)), "--preset", "generic", "--list", LIST, "--create-fields"]
    args += ["--create-lists", "--create-tags", "--no-verify", "--state-dir", str(state)]
    result = run(
        [*args, "--report-dir", str(tmp_path / "r")], {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key}
    )
    assert result.exit_code == 0, result.output
    counts = box.app.request_counts()
    box.app.faults.knobs = Knobs()  # the faults end with the run: the checks below read the account
    # resolution met the faults: the structure read, the PUT or the list POST was answered 500 or lost
    setup = {k: v for k, v in counts.items() if "contact-structure" in k}
    assert sum(setup.values()) > 4, setup
    assert _lists(box) == [LIST]  # created once, although its POST may have been sent twice
    with client_for(box) as c:
        structure = default_structure(c)
    labels = [f["label"] for f in structure["fields"]]
    assert labels.count("Company") == 1
    assert sorted(t["label"] for t in structure["tags"]) == ["blog", "vip"]
    contacts = account_contacts(box.app)
    assert len(contacts) == N and all(not isinstance(v, list) for v in contacts.values())
    # every attempt, resolution's included, is in the ledger as the server counted it
    db = sqlite3.connect(state / "ledger.db")
    (ours,) = db.execute("SELECT SUM(count) FROM requests").fetchone()
    assert ours == sum(counts.values())


def test_item11_lost_answers_to_every_setup_write_create_nothing_twice(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    box = sandbox_factory(knobs=Knobs(lost_response_rate=1.0, seed=1))  # every write applied, answer lost
    clock = FakeClock()
    sent: list[str] = []
    with BenchmarkClient(
        box.url, Secret(box.api_key), clock=clock, pacer=Pacer(clock), on_request=sent.append
    ) as client:
        res = resolve_mapping(
            client,
            [FieldColumn("Company", "Company")],
            list_names=["Newsletter"],
            tag_labels=["VIP"],
            options=ResolveOptions(create_fields=True, create_lists=True, create_tags=True),
        )
    assert [x.target_name for x in res.lists] == ["Newsletter"] and res.lists[0].created
    assert _lists(box) == ["Newsletter"]
    assert sent.count("POST /api/contact-structure/{structureId}/lists") == 1  # looked up, not re-posted
    assert sent.count("GET /api/contact-structure/{structureId}/lists/all") == 2
    with client_for(box) as c:
        structure = default_structure(c)
    assert [f["label"] for f in structure["fields"]].count("Company") == 1
    assert [t["label"] for t in structure["tags"]] == ["VIP"]
    assert res.requests == len(sent)


def _resp(headers: dict[str, str], message: str = "Rate limit exceeded.") -> httpx.Response:
    body = {"errors": [{"errorType": "TooManyRequestsError", "message": message}]}
    return httpx.Response(429, json=body, headers=headers)


def test_item17_a_long_retry_after_is_not_called_monthly() -> None:
    now = 1_800_000_000.0
    for retry_after in ("7200", "Fri, 15 Jan 2027 10:00:00 GMT"):
        exc = classify(_resp({"Retry-After": retry_after, "X-Monthly-Remaining": "99993"}), now=now)
        assert isinstance(exc, Paused)
        assert "monthly" not in str(exc).split(";")[0] and "Retry-After" in str(exc)
        assert "99,993 requests are left this month" in str(exc) and exc.resume_after
    monthly = classify(_resp({"Retry-After": "7200"}, "Monthly API quota exceeded."), now=now)
    assert isinstance(monthly, Paused) and str(monthly).startswith("monthly API quota exhausted")
    spent = classify(_resp({"Retry-After": "90000", "X-Monthly-Remaining": "0"}), now=now)
    assert isinstance(spent, Paused) and str(spent).startswith("monthly API quota exhausted")


def test_item17_sandbox_hourly_429_with_a_two_hour_window_is_reported_truthfully(  # type: ignore[no-untyped-def]
    run, sandbox_factory, tmp_path: Path
) -> None:
    clock = FakeClock(start=7200.0 * 250_000)  # the start of a two-hour window: Retry-After is 7,200 s
    box = sandbox_factory(knobs=Knobs(hourly_limit=2, window_seconds=7200), clock=clock)
    with client_for(box) as c:  # another integration spends the window
        assert [c.get("/api/contact-structure").status_code for _ in range(2)] == [200, 200]
    args = ["migrate", str(_csv(tmp_path)), "--preset", "generic", "--create-fields", "--create-tags"]
    args += ["--no-verify", "--state-dir", str(tmp_path / "s"), "--report-dir", str(tmp_path / "r")]
    result = run(args, {"BME_BASE_URL": box.url, "BME_API_KEY": box.api_key})
    assert result.exit_code == 75, result.output
    assert "monthly API quota exhausted" not in result.output
    assert "Retry-After 7,200s, longer than an hourly window" in result.output
    assert "to resume, run: bme-migrate migrate" in result.output
    assert account_contacts(box.app) == {}


def test_item11_backoff_is_jittered_and_capped() -> None:
    client = BenchmarkClient("http://127.0.0.1:9", Secret("k"), rng=random.Random(1), backoff_cap=30.0)
    try:
        waits = [client.backoff(a) for a in range(1, 12)]
    finally:
        client.close()
    assert all(0 < w <= 30.0 for w in waits) and waits[-1] >= 15.0
