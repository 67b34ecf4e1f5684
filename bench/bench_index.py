"""The dedup index's price at 1,000,000 contacts: requests with the export and without it.

A re-run over an account that already holds every contact (the case where reading is all the cost). The
account is the sandbox bench's million-contact database (built once under ``bench/data/``, see
``bench_sandbox``), served over real HTTP with the export on (``export_columns`` label and id). With the
export the index is *built and counted*: the sandbox's own request counts. Without it, paging a million
contacts is 10,000 requests of loopback work for a figure nobody doubts, so that side is the pricing
function's figure from the same probe (``IndexResult.prices``) and is printed as such.
``BENCH_INDEX_ROWS`` builds a smaller account in a temporary directory instead (then paging is counted too).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from etl.benchmark.client import BenchmarkClient
from etl.clock import FakeClock
from etl.config import Secret
from etl.load.index import HOURLY, IndexBuilder, IndexResult
from etl.sandbox.knobs import Knobs
from etl.sandbox.server import LocalSandbox
from etl.sandbox.store import ContactRow, Store, iso

ROWS = int(os.environ.get("BENCH_INDEX_ROWS", "1000000"))
COUNT_PAGING_UP_TO = 100_000  # at most this many contacts, paging is sent and counted, not priced


def _small_db(path: Path, n: int) -> list[str]:
    store = Store(path)
    store.ensure_default_structure(time.time())
    s = store.structures()[0]
    first = s.fields[0]["_id"]
    base = 1_750_000_000.0
    keys = [f"user{i:07d}@example{i % 97}.com" for i in range(n)]
    store.bulk_insert(
        ContactRow(
            store.ids.new(base),
            s.id,
            k,
            [(first, f"First{i}")],
            [],
            [],
            "Active",
            None,
            0,
            iso(base),
            iso(base),
        )
        for i, k in enumerate(keys)
    )
    store.close()
    return keys


def _db() -> tuple[Path, list[str], tempfile.TemporaryDirectory[str] | None]:
    if ROWS == 1_000_000:
        from bench import bench_sandbox

        if not bench_sandbox.DB.exists():
            bench_sandbox._build()
        return bench_sandbox.DB, [f"user{i:07d}@example{i % 97}.com" for i in range(ROWS)], None
    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "index.db"
    return db, _small_db(db, ROWS), tmp


def _build(
    db: Path, keys: list[str], strategy: str, **knobs: object
) -> tuple[IndexResult, dict[str, int], float]:
    k = Knobs(hourly_limit=10**9, monthly_limit=10**9, **knobs)  # type: ignore[arg-type]
    with LocalSandbox(db, k, FakeClock()) as box:
        client = BenchmarkClient(box.url, Secret(box.api_key), clock=FakeClock())
        with client:
            sid = box.app.store.structures()[0].id
            t0 = time.perf_counter()
            result = IndexBuilder(client, sid, strategy=strategy).build(keys)
            seconds = time.perf_counter() - t0
        return result, box.app.request_counts(), seconds


def run() -> None:
    db, keys, tmp = _db()
    try:
        print(f"index of a re-run over an account of {ROWS:,} contacts (every key already there):")
        paging_priced = 0
        for columns in ("label", "id"):
            result, served, seconds = _build(db, keys, "auto", export_columns=columns)
            total = sum(served.values())
            print(
                f"   with export ({columns} columns): {total:>6,} requests counted "
                f"({', '.join(f'{e} {n}' for e, n in sorted(served.items()))}), strategy "
                f"{result.strategy}, {len(result.docs):,} contacts indexed, {seconds:.1f}s"
            )
            probe = served.get("POST /api/contact/search", 0)
            paging_priced = probe + result.prices["paging"]
        if ROWS <= COUNT_PAGING_UP_TO:
            result, served, seconds = _build(db, keys, "auto")
            total = sum(served.values())
            print(
                f"   without export (absent → 404, then {result.strategy}): {total:,} requests counted "
                f"({total / HOURLY:.2f} h at {HOURLY:,}/h), {seconds:.1f}s"
            )
        else:
            print(
                f"   without export (paging, priced from the probe, not sent): {paging_priced:,} requests "
                f"({paging_priced / HOURLY:.2f} h at {HOURLY:,}/h), +1 refused export probe once per state dir"
            )
    finally:
        if tmp is not None:
            tmp.cleanup()
