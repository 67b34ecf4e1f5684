"""Mapping figures: transformation throughput (1,000,000 canonical rows → PlannedContacts), detection time,
and the request cost of resolution against the sandbox (in-process transport: counts, not latency)."""

from __future__ import annotations

import os
import time

import polars as pl

from etl.benchmark.client import BenchmarkClient
from etl.config import Secret
from etl.load.ledger import plan_documents
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.mapping.transform import PlannedContacts, distinct_names, plan_contacts
from etl.model import (
    EMAIL_RAW,
    EVENT_TIME,
    KEY,
    LISTS,
    ROW_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TAGS,
    FieldColumn,
)
from etl.presets.detect import detect_platform
from etl.presets.preset import load_all
from etl.sandbox.app import create_app
from etl.sandbox.http import AppTransport

ROWS = 1_000_000
COLUMNS = [
    FieldColumn("First Name", "First Name", predefined="firstName"),
    FieldColumn("Last Name", "Last Name", predefined="lastName"),
    FieldColumn("Score", "Score", data_type="number"),
    FieldColumn("Joined", "Joined", data_type="date"),
    FieldColumn("Vip", "Vip", data_type="boolean"),
    FieldColumn("Birthday", "Birthday", data_type="recurrent_date"),
]


def _frame(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    statuses = pl.Series(["subscribed", "subscribed", "subscribed", "unsubscribed", "cleaned", "pending"])
    return pl.DataFrame(
        {
            ROW_ID: i,
            SOURCE_FILE: pl.repeat("a.csv", n, eager=True),
            SOURCE_LINE: i + 2,
            KEY: "user" + i.cast(pl.String) + "@example.com",
            STATUS: statuses.gather(i % 6),
            TAGS: pl.Series([["VIP", "Blog"], [], ["Blog"]]).gather(i % 3),
            LISTS: pl.Series([["News"], ["News", "Shop"]]).gather(i % 2),
            EVENT_TIME: pl.repeat(None, n, dtype=pl.Datetime("us"), eager=True),
            "First Name": "Name" + i.cast(pl.String),
            "Last Name": pl.Series(["Lee", None]).gather(i % 2),
            "Score": (i % 1000).cast(pl.String),
            "Joined": pl.repeat("2024-03-01", n, eager=True),
            "Vip": pl.Series(["true", "false", None]).gather(i % 3),
            "Birthday": pl.repeat("03-04", n, eager=True),
        }
    ).with_columns(pl.col(KEY).alias(EMAIL_RAW))


def run() -> None:
    frame = _frame(ROWS)
    app = create_app()
    with BenchmarkClient("http://sandbox", Secret("bme_sandbox_key"), transport=AppTransport(app)) as client:
        lists, tags = distinct_names(frame)
        t0 = time.perf_counter()
        res = resolve_mapping(
            client,
            COLUMNS,
            list_names=lists,
            tag_labels=tags,
            options=ResolveOptions(create_fields=True, create_lists=True, create_tags=True),
        )
        print(
            f"   resolution creating 4 fields, 2 lists, 2 tags: {res.requests} requests "
            f"({(time.perf_counter() - t0) * 1000:.0f} ms in-process)"
        )
        again = resolve_mapping(client, COLUMNS, list_names=lists, tag_labels=tags)
        print(f"   resolution when everything exists: {again.requests} requests")
    app.close()
    t0, c0 = time.perf_counter(), time.process_time()
    out = plan_contacts(frame, COLUMNS, res.mapping)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    per_m = 1_000_000 / ROWS
    print(
        f"   plan_contacts: {ROWS:,} rows → {len(out.contacts):,} contacts, {out.skipped.height:,} skipped "
        f"in {dt:.2f}s wall, {cpu:.2f}s CPU ({ROWS / dt:,.0f} rows/s; {dt * per_m:.2f}s wall per 1M rows); "
        f"load average {os.getloadavg()[0]:.2f} on 2 cores"
    )
    # the plan is kept as columns; what a consumer pays to walk it: objects (dry run), documents (ledger)
    contacts = out.contacts
    assert isinstance(contacts, PlannedContacts)
    t0 = time.perf_counter()
    built = sum(1 for _ in contacts)
    objects = time.perf_counter() - t0
    t0 = time.perf_counter()
    docs = sum(plan_documents(part).height for part in contacts.plan_frames())
    documents = time.perf_counter() - t0
    print(
        f"   the plan walked: {built:,} PlannedContact objects in {objects:.2f}s, "
        f"{docs:,} ledger documents in {documents:.2f}s"
    )
    presets = load_all()
    headers = {
        "subscribed_members_export_x.csv": ["Email Address", "First Name", "MEMBER_RATING", "LEID", "TAGS"]
    }
    t0 = time.perf_counter()
    for _ in range(100):
        detect_platform(headers, presets)
    print(
        f"   detect_platform over {len(presets)} presets: {(time.perf_counter() - t0) * 10:.2f} ms per call"
    )
