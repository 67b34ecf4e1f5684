"""A long unattended run on a fake clock: is the hourly allowance used through a 10-minute outage?

Three hours of a run at the real limit (3,600 requests an hour) over real HTTP on loopback: the sandbox and
the loader share a ``FakeClock``, so every pacing wait, backoff and outage wait costs no real time. After
an hour and a half the target closes every connection for ten minutes (the sandbox's outage window); the
run rides it out (``--max-outage``) and goes on. Printed: the share of the clock hours' allowance the run
used, the outage's minutes included (the goal is at least 95%), and the outage's own lines.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from etl.clock import FakeClock
from etl.config import Secret
from etl.load.run import LoadSettings, load
from etl.retry import Patience
from etl.sandbox.knobs import Knobs
from etl.sandbox.server import LocalSandbox
from tests.load_support import make_plans, setup_account

HOURLY = 3600
HOURS = 3
OUTAGE_AFTER = HOURLY * 3 // 2  # requests: about an hour and a half into the run
OUTAGE_SECONDS = 600


def run() -> None:
    clock = FakeClock(start=1_800_000_000.0 - 1_800_000_000.0 % 3600)  # a clock hour's start
    knobs = Knobs(
        hourly_limit=HOURLY,
        monthly_limit=10**9,
        outage_after=OUTAGE_AFTER,  # the account set-up's few requests count too
        outage_seconds=OUTAGE_SECONDS,
        outage_status=0,  # connections closed without an answer
    )
    box = LocalSandbox(knobs=knobs, clock=clock)
    account = setup_account(box.url, box.api_key)
    box.app.reset_counts()
    plans = make_plans(account, HOURLY * HOURS, unsub_every=10**9, tags=False)
    started, t0 = clock.now(), time.perf_counter()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = LoadSettings(
            box.url,
            Secret(box.api_key),
            Path(tmp),
            account.structure_id,  # type: ignore[attr-defined]
            "longrun",
            patience=Patience(max_outage=6 * 3600, on_event=lines.append),
        )
        load(plans, settings, clock=clock)
        with sqlite3.connect(Path(tmp) / "ledger.db") as db:
            (sent,) = db.execute("SELECT SUM(count) FROM requests").fetchone()
    took = clock.now() - started
    answered = sum(box.app.request_counts().values())
    outage = box.app.faults.outage_started
    box.stop()
    up = took - (OUTAGE_SECONDS if outage is not None else 0)
    used = answered / (took / 3600 * HOURLY)  # of what the clock hours allowed, outage included
    print(
        f"   {len(plans):,} contacts at {HOURLY:,}/h, a {OUTAGE_SECONDS // 60}-minute outage after {OUTAGE_AFTER:,}"
    )
    print(
        f"   clock time {took / 3600:.2f} h ({up / 3600:.2f} h with the target up); real time {time.perf_counter() - t0:.1f} s"
    )
    print(
        f"   requests: {answered:,} counted by the sandbox, {sent:,} by the ledger (the outage's attempts included)"
    )
    print(
        f"   allowance used over the {took / 3600:.2f} clock hours, the outage's included: {used:.1%} "
        f"(goal ≥ 95%: {'met' if used >= 0.95 else 'NOT met'}); while the target was up "
        f"{answered / up * 3600:,.0f}/h (the hour's unspent budget is caught up after the outage)"
    )
    for line in lines:
        print(f"   | {line}")
