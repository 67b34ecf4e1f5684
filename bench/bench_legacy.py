"""Legacy-API extraction: 20,000 contacts over real loopback HTTP from the emulator, then from the snapshot.

Prints requests, pages, records/s for the API read, and the cost of rebuilding the frame from the
snapshot (what a re-run of a finished extraction pays instead of talking to the legacy API).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from etl.config import Secret
from etl.extract.legacy_api import extract_legacy
from etl.sandbox.http import RunningServer
from etl.sandbox.legacy import LegacyApp

CONTACTS = 20_000


def run() -> None:
    app = LegacyApp()
    app.seed_contacts(CONTACTS)
    with RunningServer(app) as server, tempfile.TemporaryDirectory() as tmp:
        token = Secret(app.default_token)
        t0 = time.perf_counter()
        first = extract_legacy(server.url, token, state_dir=Path(tmp))
        api_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = extract_legacy(server.url, token, state_dir=Path(tmp))
        snap_s = time.perf_counter() - t0
        size = (Path(tmp) / "legacy_extract.db").stat().st_size
    assert first.frame.height == again.frame.height == CONTACTS and again.requests == 0
    print(
        f"   API read:  {CONTACTS:,} contacts, {first.requests} requests ({first.pages_fetched} pages of 200), "
        f"{api_s:.2f}s = {CONTACTS / api_s:,.0f} records/s, {api_s / first.requests * 1000:.1f} ms/request"
    )
    print(
        f"   snapshot:  rebuilt {again.frame.height:,} rows x {again.frame.width} columns in {snap_s:.2f}s, "
        f"0 requests; snapshot file {size / 1e6:.1f} MB"
    )
