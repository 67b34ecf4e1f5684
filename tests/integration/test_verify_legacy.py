"""A migration straight from the legacy REST API (emulator) into the sandbox verifies clean, over real HTTP.

The run is assembled from the library pieces ``bme-migrate migrate legacy+http://…`` uses (the CLI path is
tested in tests/e2e/test_legacy_cli.py): extract_legacy → validate_frame (legacy_api preset) → resolve →
plan_contacts → load, with the resolved mapping saved in the ledger as ``migrate`` saves it. Then the
account is tampered with — a field changed, a list dropped, an unsubscriber re-activated — and verify names
each key and field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx

from etl.clock import FakeClock
from etl.config import Secret
from etl.extract.legacy_api import extract_legacy
from etl.load.ledger import Ledger
from etl.load.run import LoadSettings, load, plan_run_id
from etl.mapping.resolve import ResolveOptions, resolve_mapping, resolved_to_json
from etl.mapping.transform import distinct_names, plan_contacts
from etl.model import BME_INACTIVE
from etl.presets.preset import load_preset
from etl.sandbox.knobs import Knobs
from etl.validate.core import validate_frame
from etl.verify.compare import describe
from etl.verify.verifier import VerifyOptions, verify
from tests.fixtures.sandbox import benchmark_client


def test_legacy_api_migration_verifies_clean_then_tampering_is_caught(
    legacy_api_factory, sandbox_factory, tmp_path: Path
) -> None:
    legacy = legacy_api_factory(contacts=60)
    box = sandbox_factory(knobs=Knobs(hourly_limit=10**6, monthly_limit=10**9))
    extracted = extract_legacy(legacy.url, Secret(legacy.token), state_dir=tmp_path / "extract")
    result = validate_frame(extracted, load_preset("legacy_api"))
    lists, tags = distinct_names(result.canonical)
    with httpx.Client(base_url=box.url, headers={"X-API-Key": box.api_key}) as http:
        mapping = resolve_mapping(
            benchmark_client(http),
            result.fields,
            list_names=lists,
            tag_labels=tags,
            options=ResolveOptions(
                create_fields=True, create_lists=True, create_tags=True, extra_lists=("Legacy import",)
            ),
        ).mapping
    planned = plan_contacts(result.canonical, result.fields, mapping, duplicates=result.duplicates)
    plans = planned.contacts
    assert len(plans) > 40 and any(p.status == BME_INACTIVE for p in plans)

    state = tmp_path / "state"
    run_id = plan_run_id(plans, box.url, mapping.structure_id)
    with Ledger.open(state) as ledger:
        ledger.run(run_id).start(base_url=box.url, structure_id=mapping.structure_id)
        ledger.run(run_id).set_meta("resolved_mapping", resolved_to_json(mapping))
        settings = LoadSettings(box.url, Secret(box.api_key), state, mapping.structure_id, run_id)
        summary = load(plans, settings, clock=FakeClock(), ledger=ledger)
    assert summary.state == "complete"

    box.app.reset_counts()
    checked = verify(state, box.url, Secret(box.api_key), VerifyOptions())
    assert checked.clean, [describe(m) for m in checked.mismatches]
    assert checked.checked == len(plans) == checked.ok
    by_name = {x.name: x for x in checked.lists}
    assert by_name["Legacy import"].expected == len(plans) == by_name["Legacy import"].actual
    assert set(box.app.request_counts()) == {"POST /api/contact/search"}

    unsub = next(p for p in plans if p.status == BME_INACTIVE)
    edited = next(p for p in plans if p.status != BME_INACTIVE and p.fields)
    unlisted = next(p for p in plans if p.key not in (unsub.key, edited.key))
    fid, value = edited.fields[0]
    label = next(name for name, i in mapping.field_ids if i == fid)
    store = box.app.store
    with store.lock:
        rows = {r.key: r for r in store.contacts_by_ids(store.all_contact_ids())}
        store.replace_contact(
            rows[unsub.key], dataclasses.replace(rows[unsub.key], status="Active", secondary=None)
        )
        changed = [(f, "Tampered" if f == fid else v) for f, v in rows[edited.key].fields]
        store.replace_contact(rows[edited.key], dataclasses.replace(rows[edited.key], fields=changed))
        store.replace_contact(rows[unlisted.key], dataclasses.replace(rows[unlisted.key], lists=[]))
    again = verify(state, box.url, Secret(box.api_key), VerifyOptions(run=run_id[:8]))
    assert sorted(describe(m) for m in again.mismatches) == sorted(
        [
            f"{unsub.key}: status Active, expected Inactive/Unsubscribe (re-activated?)",
            f'{edited.key}: field "{label}" (id {fid}) is "Tampered" in the account, expected "{value}"',
            f'{unlisted.key}: list "Legacy import" missing',
        ]
    )
