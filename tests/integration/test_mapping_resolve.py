"""Resolution of field columns, lists and tags against the sandbox over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from etl.errors import AuthError, MappingError
from etl.mapping.resolve import ResolveOptions, resolve_mapping, resolved_from_json, resolved_to_json
from etl.model import FieldColumn
from tests.fixtures.sandbox import benchmark_client

FIRST = FieldColumn("First Name", "First Name", predefined="firstName")
LAST = FieldColumn("Last Name", "Last Name", predefined="lastName")
PHONE = FieldColumn("Phone", "Phone Number")
AGE = FieldColumn("Age", "age", data_type="text")


@pytest.fixture
def client(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}) as c:
        yield c


def structure(client: httpx.Client) -> dict:
    return client.get("/api/contact-structure").json()[0]


def add_field(client: httpx.Client, label: str, data_type: str = "text", tags: tuple[str, ...] = ()) -> dict:
    s = structure(client)
    body = {
        "label": s["label"],
        "keyName": s["keyName"],
        "__v": s["__v"],
        "fields": [*s["fields"], {"label": label, "dataType": data_type, "required": False}],
        "tags": [*s["tags"], *({"label": t} for t in tags)],
    }
    r = client.put(f"/api/contact-structure/{s['_id']}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_predefined_fields_resolve_with_one_request(client, sandbox) -> None:
    sandbox.app.reset_counts()
    res = resolve_mapping(benchmark_client(client), [FIRST, LAST])
    counted = sum(sandbox.app.request_counts().values())
    s = structure(client)
    by_pre = {f.get("predefinedField"): f["_id"] for f in s["fields"]}
    assert dict(res.mapping.field_ids) == {"First Name": by_pre["firstName"], "Last Name": by_pre["lastName"]}
    assert res.mapping.structure_id == s["_id"]
    assert res.requests == 1 == counted
    assert [t.matched_by for t in res.fields] == ["predefinedField", "predefinedField"]


def test_missing_targets_are_one_clear_error_before_any_write(client, sandbox) -> None:
    before = structure(client)
    with pytest.raises(MappingError) as err:
        resolve_mapping(
            benchmark_client(client),
            [FIRST, PHONE, AGE],
            list_names=["Newsletter"],
            tag_labels=["VIP", "Blog"],
        )
    msg = str(err.value)
    assert "fields not in the account: 'Phone', 'Age' (add --create-fields" in msg
    assert "lists not in the account: 'Newsletter' (add --create-lists" in msg
    assert "tags not in the account: 'VIP', 'Blog' (add --create-tags" in msg
    assert structure(client) == before
    assert client.get(f"/api/contact-structure/{before['_id']}/lists/all").json() == []
    assert not any(k.startswith(("PUT", "POST")) for k in sandbox.app.request_counts())


def test_one_flag_does_not_hide_the_others(client, sandbox) -> None:
    with pytest.raises(MappingError) as err:
        resolve_mapping(
            benchmark_client(client),
            [PHONE],
            list_names=["Newsletter"],
            options=ResolveOptions(create_fields=True),
        )
    assert "lists not in the account: 'Newsletter'" in str(err.value) and "fields" not in str(err.value)
    assert not any(k.startswith(("PUT", "POST")) for k in sandbox.app.request_counts())


def test_create_everything_in_one_structure_put(client, sandbox) -> None:
    add_field(client, "Company", tags=("Existing",))
    sandbox.app.reset_counts()
    opts = ResolveOptions(create_fields=True, create_lists=True, create_tags=True, extra_lists=("Imported",))
    res = resolve_mapping(
        benchmark_client(client),
        [FIRST, PHONE, FieldColumn("Birthday", "Birthday", data_type="recurrent_date")],
        list_names=["Newsletter"],
        tag_labels=["VIP"],
        options=opts,
    )
    counts = sandbox.app.request_counts()
    assert sum(v for k, v in counts.items() if k.startswith("PUT")) == 1
    assert sum(v for k, v in counts.items() if k.startswith("POST")) == 2  # Newsletter + Imported
    assert res.requests == 5 == sum(counts.values())  # GET structure, GET lists/all, PUT, 2 × POST list
    s = structure(client)
    fields = {f["label"]: f for f in s["fields"]}
    assert {"First Name", "Last Name", "Company", "Phone", "Birthday"} <= set(fields)
    assert fields["Birthday"]["dataType"] == "recurrent_date"
    assert dict(res.mapping.field_ids)["Phone"] == fields["Phone"]["_id"]
    tags = {t["label"]: t["_id"] for t in s["tags"]}
    assert set(tags) == {"Existing", "VIP"} and dict(res.mapping.tag_ids) == {"VIP": tags["VIP"]}
    lists = {x["name"]: x["_id"] for x in client.get(f"/api/contact-structure/{s['_id']}/lists/all").json()}
    assert dict(res.mapping.list_ids) == lists and set(lists) == {"Newsletter", "Imported"}
    assert res.mapping.extra_lists == ("Imported",)
    assert {t.field_label for t in res.fields if t.matched_by == "created"} == {"Phone", "Birthday"}
    assert [u["label"] for u in res.unfilled] == ["Last Name", "Company"]


def test_labels_and_names_match_case_and_space_insensitively(client) -> None:
    add_field(client, "Phone  Number", tags=("VIP",))
    s = structure(client)
    client.post(f"/api/contact-structure/{s['_id']}/lists", json={"name": "Newsletter"})
    res = resolve_mapping(
        benchmark_client(client),
        [FieldColumn("phone number", "tel")],
        list_names=["newsletter "],
        tag_labels=["vip"],
    )
    assert res.fields[0].field_label == "Phone  Number" and res.fields[0].matched_by == "label"
    assert res.tags[0].target_name == "VIP" and res.lists[0].target_name == "Newsletter"


def test_concurrent_structure_change_is_retried_once_and_kept(client, sandbox) -> None:
    """Another client PUTs between our GET and our PUT: ConcurrencyError → re-read → retry; both fields kept."""
    other = httpx.Client(base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key})
    fired: list[str] = []

    def interfere(request: httpx.Request) -> None:
        if request.method == "PUT" and not fired:
            fired.append("x")
            add_field(other, "Added Elsewhere")

    with (
        other,
        httpx.Client(
            base_url=sandbox.url, headers={"X-API-Key": sandbox.api_key}, event_hooks={"request": [interfere]}
        ) as ours,
    ):
        sandbox.app.reset_counts()
        res = resolve_mapping(
            benchmark_client(ours),
            [PHONE],
            tag_labels=["VIP"],
            options=ResolveOptions(create_fields=True, create_tags=True),
        )
    counts = sandbox.app.request_counts()
    labels = {f["label"] for f in structure(client)["fields"]}
    assert {"Phone", "Added Elsewhere"} <= labels
    assert res.requests == 4  # GET, PUT (stale), GET, PUT
    assert sum(v for k, v in counts.items() if k.startswith("PUT")) == 3  # ours twice + the other client's
    assert dict(res.mapping.field_ids)["Phone"] in {f["_id"] for f in structure(client)["fields"]}
    assert [u["label"] for u in res.unfilled] == ["First Name", "Last Name", "Added Elsewhere"]


def test_type_mismatch_keeps_the_account_type(client) -> None:
    add_field(client, "Age", data_type="number")
    res = resolve_mapping(benchmark_client(client), [AGE])
    (target,) = res.fields
    assert target.data_type == "number" and target.coerced
    assert dict(res.mapping.field_types) == {target.field_id: "number"}
    assert res.warnings and "'age' is text but field 'Age' is number" in res.warnings[0]
    assert {f["label"]: f["dataType"] for f in structure(client)["fields"]}["Age"] == "number"


def test_unknown_structure_id_is_a_mapping_error(client) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        resolve_mapping(benchmark_client(client), [FIRST], options=ResolveOptions(structure_id="0" * 24))


def test_named_structure_is_used(client) -> None:
    sid = structure(client)["_id"]
    res = resolve_mapping(benchmark_client(client), [FIRST], options=ResolveOptions(structure_id=sid))
    assert res.mapping.structure_id == sid and res.requests == 1


def test_read_only_key_cannot_create(sandbox) -> None:
    from etl.sandbox.knobs import READONLY_KEY

    with (
        httpx.Client(base_url=sandbox.url, headers={"X-API-Key": READONLY_KEY}) as ro,
        pytest.raises(AuthError, match="contacts:write"),
    ):
        resolve_mapping(benchmark_client(ro), [PHONE], options=ResolveOptions(create_fields=True))


def test_resolved_mapping_round_trips_through_json(client) -> None:
    res = resolve_mapping(
        benchmark_client(client),
        [FIRST, PHONE],
        tag_labels=["VIP"],
        list_names=["N"],
        options=ResolveOptions(create_fields=True, create_tags=True, create_lists=True, extra_lists=("X",)),
    )
    text = resolved_to_json(res.mapping)
    assert resolved_from_json(text) == res.mapping
    assert resolved_to_json(resolved_from_json(text)) == text
    with pytest.raises(MappingError, match="not readable"):
        resolved_from_json("{}")


def test_two_columns_on_one_field_is_an_error(client) -> None:
    add_field(client, "Opt-in Date")
    with pytest.raises(MappingError, match="'optin' and 'Opt In Date' both map to field 'Opt-in Date'"):
        resolve_mapping(
            benchmark_client(client),
            [FieldColumn("Opt-in Date", "optin"), FieldColumn("Opt In Date", "Opt In Date")],
        )


def test_case_variants_create_one_tag_and_one_list(client, sandbox) -> None:
    sandbox.app.reset_counts()
    res = resolve_mapping(
        benchmark_client(client),
        [],
        list_names=["News", "news "],
        tag_labels=["VIP", "vip"],
        options=ResolveOptions(create_lists=True, create_tags=True),
    )
    assert sum(v for k, v in sandbox.app.request_counts().items() if k.startswith("POST")) == 1
    s = structure(client)
    assert [t["label"] for t in s["tags"]] == ["VIP"]
    assert len({tid for _, tid in res.mapping.tag_ids}) == 1 and len(res.mapping.tag_ids) == 2
    assert len({lid for _, lid in res.mapping.list_ids}) == 1 and len(res.mapping.list_ids) == 2
    assert all(t.created for t in res.tags) and all(x.created for x in res.lists)


def test_two_new_columns_on_one_new_field_are_refused_before_writing(client, sandbox) -> None:
    before = structure(client)
    with pytest.raises(MappingError, match="both map to field 'Shoe Size'.*nothing was written"):
        resolve_mapping(
            benchmark_client(client),
            [FieldColumn("Shoe Size", "shoe"), FieldColumn("Shoe-size", "Shoe-size")],
            options=ResolveOptions(create_fields=True),
        )
    assert structure(client) == before
