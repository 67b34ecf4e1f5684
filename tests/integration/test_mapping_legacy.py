"""The legacy REST API (docs/reference/legacy-contacts-api.md) end to end: emulator → extract → detection → validate → resolution
against the sandbox → planned contacts, all over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etl.config import Secret
from etl.extract.legacy_api import extract_legacy
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.mapping.transform import distinct_names, plan_contacts
from etl.model import KEY, PROVENANCE, STATUS
from etl.presets.detect import detect_platform
from etl.presets.preset import load_preset
from etl.validate.core import validate_frame
from tests.fixtures.sandbox import benchmark_client


@pytest.fixture
def client(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as c:
        yield c


def test_legacy_api_contacts_map_onto_the_account(legacy_api_factory, tmp_path: Path, client) -> None:
    legacy = legacy_api_factory(contacts=30)
    source = f"legacy+{legacy.url}/api"
    extracted = extract_legacy(legacy.url, Secret(legacy.token), state_dir=tmp_path)
    headers = [c for c in extracted.frame.columns if c not in PROVENANCE]
    detection = detect_platform({source: headers})
    assert detection.platform == "legacy_api", detection.evidence

    result = validate_frame(extracted, load_preset("legacy_api"))
    assert result.counts.valid == 30
    by_source = {c.source: c for c in result.fields}
    assert (
        by_source["first_name"].predefined == "firstName" and by_source["last_name"].predefined == "lastName"
    )
    assert by_source["id"].label == "Legacy ID"
    props = [
        h
        for h in headers
        if h not in ("email", "first_name", "last_name", "status", "id", "created_at", "updated_at")
    ]
    assert props and all(by_source[p].custom for p in props)  # every property key becomes a custom field

    lists, tags = distinct_names(result.canonical)
    res = resolve_mapping(
        benchmark_client(client),
        result.fields,
        list_names=lists,
        tag_labels=tags,
        options=ResolveOptions(create_fields=True, extra_lists=("Legacy import",), create_lists=True),
    )
    planned = plan_contacts(result.canonical, result.fields, res.mapping)
    statuses = dict(zip(result.canonical[KEY], result.canonical[STATUS], strict=True))
    assert set(statuses.values()) == {"subscribed", "unsubscribed"}
    assert len(planned.contacts) == 30 and planned.rejected.height == 0 and planned.skipped.height == 0
    for c in planned.contacts:
        assert c.status == ("Active" if statuses[c.key] == "subscribed" else "Inactive")
        assert dict(c.fields)[dict(res.mapping.field_ids)["Legacy ID"]]
    ids = {f["_id"] for f in client.get("/api/contact-structure").json()[0]["fields"]}
    assert {fid for _, fid in res.mapping.field_ids} <= ids
