"""A resume whose plan, mapping and dedup index are in the ledger writes before it reads its sources again
(real HTTP to the sandbox, real files): the read goes on in a thread, for the report."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

import etl.pipeline.migration as migration
from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import Paused
from etl.pipeline.migration import Hooks, MigrateOptions, migrate
from etl.sandbox.knobs import Knobs
from tests.load_support import account_contacts, people_csv


def test_a_resume_writes_before_reading_its_sources_and_still_reports_every_row(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**9, monthly_limit=10**9), clock=clock)
    opts = MigrateOptions(
        sources=(str(people_csv(tmp_path, 40)),),
        create_fields=True,
        report_dir=tmp_path / "r",
        max_requests=15,
    )
    state = tmp_path / "state"
    with pytest.raises(Paused, match="--max-requests 15"):
        migrate(opts, box.url, Secret(box.api_key), state, clock=clock)
    created_first = len(account_contacts(box.app))
    assert 0 < created_first < 40

    order: list[str] = []
    loading = threading.Event()
    read_inputs = migration.read_inputs

    def watched(*args: object, **kwargs: object) -> object:  # the real read, its moment noted
        loading.wait(5)  # a resume that read its sources first would wait here in vain, then read
        order.append("read")
        return read_inputs(*args, **kwargs)  # type: ignore[arg-type]

    def on_start(loader: object, pacer: object) -> None:
        order.append("load")
        loading.set()

    monkeypatch.setattr(migration, "read_inputs", watched)
    result = migrate(
        replace(opts, max_requests=None),
        box.url,
        Secret(box.api_key),
        state,
        clock=clock,
        hooks=Hooks(on_start=on_start),
    )
    assert order == ["load", "read"]
    assert result.state == "complete" and result.summary is not None
    assert result.summary.rows == {"created": 40}
    assert result.validation is not None and result.report["rows"]["created"] == 40
    assert len(account_contacts(box.app)) == 40
    served = box.app.request_counts()
    assert served["POST /api/contact"] == 40  # each contact created once across the pause
