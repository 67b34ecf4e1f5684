"""Acceptance, for EVERY preset: a real-header export on disk → detection → validate → resolution against a
fresh sandbox over real HTTP (creating fields, lists and tags) → planned contacts → the mapping report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etl.extract import read_sources
from etl.mapping.headers import read_headers
from etl.mapping.plan import build_plan, mapping_report
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.mapping.transform import distinct_names, plan_contacts
from etl.model import KEY, STATUS, TAGS
from etl.presets.detect import detect_platform
from etl.presets.preset import load_preset
from etl.validate.core import validate_frame
from tests.fixtures.sandbox import benchmark_client
from tests.unit.test_mapping_exports import EXPORTS

BME = {
    "subscribed": ("Active", None),
    "unsubscribed": ("Inactive", "Unsubscribe"),
    "cleaned": ("Inactive", "Unsubscribe"),
}


@pytest.fixture
def client(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as c:
        yield c


def write_export(root: Path, files: dict[str, str]) -> list[str]:
    paths = []
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("platform", sorted(EXPORTS))
def test_platform_export_maps_onto_a_fresh_account(platform: str, tmp_path: Path, client, sandbox) -> None:
    export = EXPORTS[platform]
    paths = write_export(tmp_path, export.files)

    detection = detect_platform(read_headers(paths))
    assert detection.platform == platform, detection.evidence

    preset = load_preset(detection.platform)
    result = validate_frame(read_sources(paths), preset)
    assert result.counts.rejected == 0, result.outcomes.filter(
        result.outcomes["outcome"] == "rejected"
    ).to_dicts()
    mapped = {c.source.strip(): c.label for c in result.fields}
    assert mapped == export.fields  # every field column, and nothing else, becomes a field

    lists, tags = distinct_names(result.canonical)
    sandbox.app.reset_counts()
    opts = ResolveOptions(create_fields=True, create_lists=True, create_tags=True, extra_lists=("Migrated",))
    res = resolve_mapping(
        benchmark_client(client), result.fields, list_names=lists, tag_labels=tags, options=opts
    )
    assert (
        res.requests == sum(sandbox.app.request_counts().values()) == 4 + len(lists)
    )  # GET, GET lists, PUT, a POST per list + Migrated

    structure = client.get("/api/contact-structure").json()[0]
    field_ids = {f["_id"]: f for f in structure["fields"]}
    assert {fid for _, fid in res.mapping.field_ids} <= set(field_ids)
    by_label = dict(res.mapping.field_ids)
    if "First Name" in by_label:  # predefined fields are matched, never duplicated
        assert field_ids[by_label["First Name"]].get("predefinedField") == "firstName"
    tag_ids = {t["_id"] for t in structure["tags"]}
    assert {tid for _, tid in res.mapping.tag_ids} <= tag_ids
    account_lists = {
        x["_id"]: x["name"] for x in client.get(f"/api/contact-structure/{structure['_id']}/lists/all").json()
    }
    assert {lid for _, lid in res.mapping.list_ids} <= set(account_lists)

    statuses = dict(zip(result.canonical[KEY], result.canonical[STATUS], strict=True))
    assert statuses == export.statuses
    row_tags = {
        k: t for k, t in zip(result.canonical[KEY], result.canonical[TAGS].to_list(), strict=True) if t
    }
    assert row_tags == export.tags

    planned = plan_contacts(result.canonical, result.fields, res.mapping)
    tag_label = {tid: label for label, tid in res.mapping.tag_ids}
    for c in planned.contacts:
        assert (c.status, c.secondary) == BME[statuses[c.key]]
        assert [tag_label[t] for t in c.tags] == sorted(
            export.tags.get(c.key, []), key=lambda lbl: dict(res.mapping.tag_ids)[lbl]
        )
        assert dict(res.mapping.list_ids)["Migrated"] in c.lists
        assert list(c.fields) == sorted(c.fields)
    skipped = set(planned.skipped[KEY].to_list())
    assert skipped == {k for k, s in statuses.items() if s in ("pending", "no_consent")}
    assert planned.rejected.height == 0

    report = mapping_report(build_plan(preset, list(result.source_columns), result.fields, res))
    routes = {r["source"].strip(): r for r in report["columns"]}
    assert len(report["columns"]) == len(result.source_columns)
    for source, label in export.fields.items():
        assert routes[source]["kind"] == "field" and routes[source]["target_id"] == by_label[label]
    assert sum(r["kind"] == "email" for r in report["columns"]) == 1
    for r in report[
        "columns"
    ]:  # nothing is dropped silently: every other column says where it went, or why not
        if r["source"].strip() not in export.fields and r["kind"] != "email":
            assert r["kind"] != "field" and (r["kind"] != "ignored" or r["note"]), r
    if export.tags:
        assert any(r["kind"] == "tags" for r in report["columns"])
    if any(s != "subscribed" for s in export.statuses.values()) and platform not in ("mailchimp", "aweber"):
        assert any(r["kind"] in ("status", "status_flag") for r in report["columns"])
    assert report["structure"]["_id"] == structure["_id"]


def test_mailchimp_zip_end_to_end(tmp_path: Path, client) -> None:
    """The real packaging: one ZIP, three status files; status from file names, tags from TAGS."""
    import zipfile

    z = tmp_path / "members_export_bd91baeb6f.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, text in EXPORTS["mailchimp"].files.items():
            zf.writestr(name, text)
    detection = detect_platform(read_headers([str(z)]))
    assert detection.platform == "mailchimp" and detection.confidence > 0.9
    result = validate_frame(read_sources([str(z)]), load_preset("mailchimp"))
    lists, tags = distinct_names(result.canonical)
    assert lists == ["Mailchimp audience"] and set(tags) == {"VIP", "Blog", "Editors"}
    res = resolve_mapping(
        benchmark_client(client),
        result.fields,
        list_names=lists,
        tag_labels=tags,
        options=ResolveOptions(create_fields=True, create_lists=True, create_tags=True),
    )
    assert res.requests == 4
    planned = plan_contacts(result.canonical, result.fields, res.mapping, duplicates=result.duplicates)
    by_key = {c.key: c for c in planned.contacts}
    assert (
        by_key["ann@example.com"].status,
        by_key["bob@example.com"].status,
        by_key["cat@example.com"].status,
    ) == ("Active", "Inactive", "Inactive")
    audience = dict(res.mapping.list_ids)["Mailchimp audience"]
    assert all(c.lists == (audience,) for c in planned.contacts)
    ann = dict(by_key["ann@example.com"].fields)
    ids = dict(res.mapping.field_ids)
    assert ann[ids["Opt-in Time"]] == "2019-05-01" and ann[ids["Mailchimp EUID"]] == "c2cb0681af"
