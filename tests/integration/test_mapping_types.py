"""Unknown-platform exports through ``generic`` (no mapping file) into an account whose fields are typed,
and the field-type-mismatch policy end to end over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etl.extract import read_sources
from etl.mapping.headers import read_headers
from etl.mapping.plan import build_plan, mapping_report
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.mapping.transform import plan_contacts
from etl.model import REASON, REASON_CODE, ROW_ID
from etl.presets.detect import detect_platform
from etl.presets.preset import load_preset
from etl.validate.core import validate_frame
from tests.fixtures.sandbox import benchmark_client


@pytest.fixture
def client(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as c:
        yield c


def typed_fields(client: httpx.Client, types: dict[str, str]) -> None:
    s = client.get("/api/contact-structure").json()[0]
    body = {
        "label": s["label"],
        "keyName": s["keyName"],
        "__v": s["__v"],
        "tags": s["tags"],
        "fields": [*s["fields"], *({"label": k, "dataType": v, "required": False} for k, v in types.items())],
    }
    assert client.put(f"/api/contact-structure/{s['_id']}", json=body).status_code == 200


def run(tmp_path: Path, client: httpx.Client, text: str, **opts: bool):
    src = tmp_path / "people.csv"
    src.write_text(text, encoding="utf-8")
    detection = detect_platform(read_headers([str(src)]))
    preset = load_preset(detection.platform)
    result = validate_frame(read_sources([str(src)]), preset)
    res = resolve_mapping(benchmark_client(client), result.fields, options=ResolveOptions(**opts))
    planned = plan_contacts(result.canonical, result.fields, res.mapping)
    return detection, result, res, planned


def test_unknown_export_maps_through_generic_into_typed_fields(tmp_path: Path, client) -> None:
    typed_fields(client, {"Vip Member": "boolean", "Signed Up": "date", "Score": "number"})
    detection, result, res, planned = run(
        tmp_path,
        client,
        "email,First Name,PHONE,Vip Member,Signed Up,Score\n"
        'Ann@Example.com,Ann,555,Yes,2024-03-01T10:00:00Z,"1,234.5"\n'
        "bob@example.com,Bob,,No,2024-03-02 23:30:00 UTC,+7\n"
        "cy@example.com,Cy,,,,\n",
        create_fields=True,
    )
    assert detection.platform == "generic"
    ids = dict(res.mapping.field_ids)
    by_key = {c.key: dict(c.fields) for c in planned.contacts}
    assert by_key["ann@example.com"] == {
        ids["First Name"]: "Ann",
        ids["Phone"]: "555",
        ids["Vip Member"]: "true",
        ids["Signed Up"]: "2024-03-01",
        ids["Score"]: "1234.5",
    }
    assert by_key["bob@example.com"][ids["Vip Member"]] == "false"
    assert by_key["bob@example.com"][ids["Signed Up"]] == "2024-03-02"
    assert by_key["bob@example.com"][ids["Score"]] == "7"
    assert by_key["cy@example.com"] == {ids["First Name"]: "Cy"}  # empty cells are omitted
    coerced = {t.column.label for t in res.fields if t.coerced}
    assert coerced == {"Vip Member", "Signed Up", "Score"}
    report = mapping_report(build_plan(result.preset, list(result.source_columns), result.fields, res))
    vip = next(r for r in report["columns"] if r["source"] == "Vip Member")
    assert vip["data_type"] == "boolean" and "converted to boolean" in vip["note"]


def test_value_that_cannot_take_the_account_type_is_left_out_of_its_contact(tmp_path: Path, client) -> None:
    typed_fields(client, {"Age": "number"})
    _, result, res, planned = run(tmp_path, client, "email,Age\na@example.com,41\nb@example.com,forty-two\n")
    assert [c.key for c in planned.contacts] == ["a@example.com", "b@example.com"]
    assert planned.contacts[1].fields == () and planned.rejected.height == 0
    (problem,) = planned.field_problems.to_dicts()
    b_row = result.canonical.filter(result.canonical["key"] == "b@example.com")[ROW_ID].item()
    assert problem[ROW_ID] == b_row and problem[REASON_CODE] == "type_mismatch" and problem["field"] == "Age"
    assert (
        "column 'Age'" in problem[REASON]
        and "forty-two" in problem[REASON]
        and "is number" in problem[REASON]
    )
    assert res.warnings and "'Age' is text but field 'Age' is number" in res.warnings[0]


def test_report_section_for_a_validation_result(tmp_path: Path, client) -> None:
    from etl.mapping.plan import report_section

    _, result, res, _ = run(
        tmp_path, client, "email,First Name,Shoe\na@example.com,Ann,42\n", create_fields=True
    )
    offline, online = report_section(result), report_section(result, res)
    assert offline["structure"] is None and all(c["target_id"] is None for c in offline["columns"])
    shoe = next(c for c in online["columns"] if c["source"] == "Shoe")
    assert shoe["target_id"] == dict(res.mapping.field_ids)["Shoe"] and "field created" in shoe["note"]
    assert online["requests"] == res.requests
