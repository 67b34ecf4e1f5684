"""``bme-migrate migrate`` on 1,000,000 Mailchimp-shaped rows into the embedded sandbox, stopped by
``--max-requests 20``: how long until the first write (the first ``POST /api/contact``) goes out and how
much memory that takes, for a first run (read, validate, resolve, plan, store the plan in the ledger) and
for its resume (the plan already stored), and how many bytes of ledger each planned contact costs.

This is the part of a migration that does not wait for the API: the requests themselves are paced at the
account's 3,600 an hour. Each run is its own subprocess, so its peak RSS (``VmHWM``) is its own.
``BENCH_MIGRATE_ROWS`` sets the row count (the file is shared with ``bench_validate``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_validate import ROOT, peak_rss_mib

ROWS = int(os.environ.get("BENCH_MIGRATE_ROWS", "1000000"))
DATA = ROOT / "bench" / "data" / ("large_1m.csv" if ROWS == 1_000_000 else f"large_{ROWS}.csv")


def _child(state: str, reports: str) -> None:
    from etl.allocator import configure

    configure()  # as the bme-migrate entry point does
    from etl.benchmark.client import BenchmarkClient
    from etl.cli import main

    t0 = time.perf_counter()
    first: list[float] = []
    create = BenchmarkClient.create_contact

    def timed(self: BenchmarkClient, body: dict[str, object]) -> dict[str, object]:
        if not first:  # the moment the first write leaves: what a user waits for
            first.append(time.perf_counter() - t0)
        return create(self, body)

    BenchmarkClient.create_contact = timed  # type: ignore[method-assign]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(
                ["migrate", str(DATA), "--state-dir", state, "--report-dir", reports, "--max-requests", "20"]
            )
        except SystemExit as exc:
            if exc.code not in (0, 75):
                raise
    out = {"total_s": time.perf_counter() - t0, "peak_mib": peak_rss_mib(), "first_write_s": -1.0}
    print(json.dumps(out | ({"first_write_s": first[0]} if first else {})))


def _run(state: Path, reports: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_migrate", str(state), str(reports)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run() -> None:
    if not DATA.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "samples" / "generate.py"), "--large", str(ROWS), "--out", str(DATA)],
            check=True,
        )
    size_mib = DATA.stat().st_size / 2**20
    with tempfile.TemporaryDirectory() as tmp:
        state, reports = Path(tmp) / "state", Path(tmp) / "reports"
        first = _run(state, reports)
        again = _run(state, reports)
        ledger_bytes = sum(f.stat().st_size for f in state.glob("ledger.db*"))  # -wal/-shm if left
        contacts = _planned(state / "ledger.db")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"   file: {DATA.relative_to(ROOT)} — {ROWS:,} rows, {size_mib:,.0f} MiB; stopped after 20 requests;"
        f" load average {load}"
    )
    for label, m in (
        ("first run (plan built and stored):", first),
        ("resume (plan read from the ledger):", again),
    ):
        print(
            f"   {label:<37} first write {m['first_write_s']:5.1f} s (target ≤ {TARGETS[label]:.0f} s)"
            f"   total {m['total_s']:5.1f} s   peak RSS {m['peak_mib']:6,.0f} MiB ="
            f" {m['peak_mib'] / size_mib:4.1f}× file (target ≤ 3×)"
        )
    per_contact = ledger_bytes / contacts if contacts else float("nan")
    print(
        f"   ledger: {ledger_bytes / 2**20:,.0f} MiB for {contacts:,} planned contacts ="
        f" {per_contact:,.0f} bytes per contact (target ≤ 250)"
    )


TARGETS = {"first run (plan built and stored):": 15.0, "resume (plan read from the ledger):": 5.0}


def _planned(ledger: Path) -> int:
    """The contacts the run planned (what the ledger's size is shared by)."""
    db = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])
    finally:
        db.close()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
