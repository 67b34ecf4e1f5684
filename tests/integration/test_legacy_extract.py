"""Extraction from the legacy contacts API over real HTTP against the emulator: paging, retries, resume."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import httpx
import polars as pl
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import AuthError, ConfigError, InputError
from etl.extract.legacy_api import CORE_COLUMNS, STATE_DB_NAME, LegacyExtract, extract_legacy
from etl.presets.preset import load_preset
from etl.validate.core import ValidationResult, validate_frame
from tests.fixtures.legacy import LegacyFactory, LegacyServer

PROPERTY_COLUMNS = ["company", "city", "signup_source", "signup_date", "orders", "vip", "plan"]
PROVENANCE = ["row_id", "source_file", "source_line"]


class Crash(Exception):
    """Stands for the process dying right after a page was checkpointed."""


def run(api: LegacyServer, state_dir: Path, **kwargs) -> LegacyExtract:
    kwargs.setdefault("clock", FakeClock())
    kwargs.setdefault("rng", random.Random(1))
    return extract_legacy(api.url, Secret(api.token), state_dir=state_dir, **kwargs)


def test_thousand_contacts_in_five_pages_same_shape_as_csv(legacy_api: LegacyServer, tmp_path: Path) -> None:
    result = run(legacy_api, tmp_path)
    frame = result.frame
    assert legacy_api.app.served_list_offsets() == [0, 200, 400, 600, 800]
    assert [r.query for r in legacy_api.app.requests] == [
        {"limit": "200", "offset": str(o)} for o in (0, 200, 400, 600, 800)
    ]
    assert (result.requests, result.pages_fetched, result.records, result.total) == (5, 5, 1000, 1000)
    assert frame.columns == [*PROVENANCE, *CORE_COLUMNS, *PROPERTY_COLUMNS]
    assert all(frame.schema[c] == pl.String for c in frame.columns if c not in ("row_id", "source_line"))
    assert frame.schema["row_id"] == frame.schema["source_line"] == pl.Int64
    assert frame["row_id"].to_list() == list(range(1000))
    assert frame["source_line"].to_list() == list(range(1, 1001))
    assert frame["source_file"].unique().to_list() == [f"{legacy_api.url}/api/v1/contacts"]
    contacts = legacy_api.app.contacts()
    assert frame["email"].to_list() == [c["email"] for c in contacts]
    assert frame["id"].to_list() == [c["id"] for c in contacts]
    assert frame.filter(pl.col("status") == "unsubscribed").height == 142
    # sparse and typed properties become text; a missing key or a null is null, never ""
    assert frame["last_name"].null_count() == sum(c["last_name"] is None for c in contacts) > 0
    assert frame["plan"].null_count() == sum("plan" not in c["properties"] for c in contacts) > 0
    assert set(frame["vip"].drop_nulls().to_list()) == {"true", "false"}
    assert frame["orders"].drop_nulls().str.contains(r"^\d+$").all()
    assert dict(result.property_columns) == {c: c for c in PROPERTY_COLUMNS}
    assert not result.warnings and not result.second_read and not result.from_snapshot
    handoff = result.result
    assert handoff.frame is frame and handoff.rows_read == 1000 and handoff.files[0].kind == "api"
    assert handoff.rejects.height == 0
    assert handoff.files[0].header == (*CORE_COLUMNS, *PROPERTY_COLUMNS)


def test_bare_array_api_gives_the_same_frame(legacy_api_factory: LegacyFactory, tmp_path: Path) -> None:
    obj = legacy_api_factory(contacts=1000, clock=FakeClock())
    arr = legacy_api_factory(contacts=1000, clock=FakeClock(), envelope="array")
    a, b = run(obj, tmp_path / "a"), run(arr, tmp_path / "b")
    assert a.frame.drop("source_file").equals(b.frame.drop("source_file"))
    assert arr.app.served_list_offsets() == [0, 200, 400, 600, 800, 1000]  # the empty page ends it
    assert b.total is None and b.pages_fetched == 5


def test_short_last_page_and_small_page_size(legacy_api_factory: LegacyFactory, tmp_path: Path) -> None:
    api = legacy_api_factory(contacts=23, envelope="array")
    result = run(api, tmp_path, page_size=10)
    assert api.app.served_list_offsets() == [0, 10, 20]
    assert result.frame.height == 23


def test_500_mid_way_is_retried_without_loss_or_rereads(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=1000, fail_offsets={400, 800})
    clock = FakeClock()
    result = run(api, tmp_path, clock=clock)
    assert result.frame.height == 1000 and result.frame["row_id"].is_unique().all()
    assert api.app.served_list_offsets() == [0, 200, 400, 600, 800]
    assert api.app.statuses == [200, 200, 500, 200, 200, 500, 200]
    assert (result.requests, result.retries) == (7, 2)
    assert len(clock.sleeps) == 2 and 0.5 <= clock.sleeps[0] <= 1.0  # first backoff: 1 s with equal jitter


def test_retry_after_is_honoured(legacy_api_factory: LegacyFactory, tmp_path: Path) -> None:
    api = legacy_api_factory(contacts=300, fail_offsets={200}, retry_after=7)
    clock = FakeClock()
    run(api, tmp_path, clock=clock)
    assert clock.sleeps == [7.0]


def test_dropped_connections_are_retried_with_growing_backoff(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=300, drop_at={1, 2, 3})
    clock = FakeClock()
    result = run(api, tmp_path, clock=clock)
    assert result.frame.height == 300 and result.retries == 3
    first, second, third = clock.sleeps
    assert 0.5 <= first <= 1 and 1 <= second <= 2 and 2 <= third <= 4


def test_giving_up_keeps_saved_pages_and_a_rerun_resumes(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=1000, fail_at={2, 3, 4})
    with pytest.raises(InputError) as info:
        run(api, tmp_path, max_retries=2)
    message = str(info.value)
    assert "after 2 retries" in message and "offset 400" in message and "run again to resume" in message
    assert "\n" not in message and message.startswith(f"{api.url}/api/v1/contacts: ")
    result = run(api, tmp_path, max_retries=2)
    assert result.frame.height == 1000 and result.pages_reused == 2 and result.pages_fetched == 3
    assert api.app.served_list_offsets() == [0, 200, 400, 600, 800]


def test_crash_between_pages_resumes_without_rereading(legacy_api: LegacyServer, tmp_path: Path) -> None:
    def crash_after_second_page(offset: int, count: int, total: int | None) -> None:
        if offset == 200:
            raise Crash

    with pytest.raises(Crash):
        run(legacy_api, tmp_path, on_page=crash_after_second_page)
    assert legacy_api.app.served_list_offsets() == [0, 200]
    result = run(legacy_api, tmp_path)
    assert legacy_api.app.served_list_offsets() == [0, 200, 400, 600, 800]  # no page read twice
    assert (result.pages_reused, result.pages_fetched, result.requests) == (2, 3, 3)
    assert result.frame["row_id"].to_list() == list(range(1000))


def test_finished_extraction_is_rebuilt_from_the_snapshot(legacy_api: LegacyServer, tmp_path: Path) -> None:
    first = run(legacy_api, tmp_path)
    before = len(legacy_api.app.requests)
    legacy_api.app.fail_rate = 1.0  # the legacy API is gone: any request would fail
    again = run(legacy_api, tmp_path)
    assert len(legacy_api.app.requests) == before
    assert again.from_snapshot and again.requests == 0 and again.pages_reused == 5
    assert again.frame.equals(first.frame)
    legacy_api.app.fail_rate = 0.0
    fresh = run(legacy_api, tmp_path, fresh=True)
    assert fresh.requests == 5 and not fresh.from_snapshot and fresh.frame.equals(first.frame)


def test_status_filter_is_sent_and_keeps_its_own_snapshot(legacy_api: LegacyServer, tmp_path: Path) -> None:
    unsub = run(legacy_api, tmp_path, status="unsubscribed")
    assert unsub.frame.height == 142 and set(unsub.frame["status"].to_list()) == {"unsubscribed"}
    assert legacy_api.app.requests[0].query == {"limit": "200", "offset": "0", "status": "unsubscribed"}
    assert unsub.frame["row_id"].to_list() == list(range(142))  # offsets within the filtered listing
    everyone = run(legacy_api, tmp_path)
    assert everyone.frame.height == 1000 and not everyone.from_snapshot
    with pytest.raises(ConfigError, match="status filter"):
        run(legacy_api, tmp_path, status="cleaned")


def test_401_is_a_one_line_auth_error(legacy_api: LegacyServer, tmp_path: Path) -> None:
    with pytest.raises(AuthError) as info:
        extract_legacy(legacy_api.url, Secret("tok_wrong_0123456789"), state_dir=tmp_path, clock=FakeClock())
    message = str(info.value)
    assert message.startswith("legacy API rejected the token (401)") and "\n" not in message
    assert "tok_wrong_0123456789" not in message and info.value.exit_code == 4
    assert len(legacy_api.app.requests) == 1  # never retried


def test_other_4xx_is_an_input_error_naming_the_url(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=5)
    with pytest.raises(InputError, match=r"404 not_found: no such endpoint"):
        extract_legacy(api.url + "/v9", Secret(api.token), state_dir=tmp_path, clock=FakeClock())


def validated(result: LegacyExtract) -> ValidationResult:
    return validate_frame(result.result, load_preset("legacy_api"))


def person(v: ValidationResult, email: str) -> dict:
    (row,) = v.canonical.filter(pl.col("key") == email.lower()).to_dicts()
    return row


def test_a_contact_recreated_while_paging_keeps_every_entry_and_a_second_read_finds_the_skipped(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=30, clock=FakeClock())
    contacts = api.app.contacts()
    victim = contacts[3]

    def recreate_between_pages(offset: int, count: int, total: int | None) -> None:
        if offset == 0 and len(api.app.requests) == 1:  # the first read only
            # the person re-subscribes with other casing while we page: a new record, same email
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as c:
                c.post("/api/v1/contacts", json={"email": "dup." + victim["email"]})
                c.delete(f"/api/v1/contacts/{victim['id']}")
                c.post("/api/v1/contacts", json={"email": victim["email"].upper()})

    result = run(api, tmp_path, page_size=10, on_page=recreate_between_pages)
    # the delete shifted the listing left: the first read repeated nobody but skipped contacts[10];
    # its total went 30 → 31, so the listing was read again and contacts[10] found there
    assert result.second_read and result.records == 32 and result.result.rows_read == 32
    assert api.app.served_list_offsets() == [0, 10, 20, 30, 0, 10, 20, 30]
    skipped = result.frame.filter(pl.col("id") == contacts[10]["id"])
    # the second read's rows follow the first read's 31; it listed contacts[10] at offset 9
    assert skipped["row_id"].to_list() == [31 + 9]
    assert result.frame.filter(pl.col("email").str.to_lowercase() == victim["email"].lower()).height == 2
    assert result.frame["id"].n_unique() == 33 - 1  # 30 seeded + 2 created, the deleted one listed once
    assert "total 30 → 31" in result.warnings[0] and "1 new or changed entry added" in result.warnings[0]
    v = validated(result)
    assert (v.counts.rows_read, v.counts.merged_duplicate) == (32, 1)
    assert v.canonical.height == 31 and v.canonical["key"].is_unique().all()
    assert person(v, victim["email"])["Legacy ID"] != victim["id"]  # the newer entry wins the fields


def test_case_variant_entries_are_two_rows_merged_consent_wins(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=30, clock=FakeClock())
    older = api.app.contacts()[6]  # every 7th seeded contact is unsubscribed
    assert older["status"] == "unsubscribed"
    newer = api.app.add_case_variant(older["id"], status="subscribed", listed_first=True)
    result = run(api, tmp_path)
    assert result.records == 31 and not result.second_read and not result.warnings
    assert result.frame.filter(pl.col("row_id").is_in([6, 7]))["id"].to_list() == [newer["id"], older["id"]]
    v = validated(result)
    assert (v.counts.rows_read, v.counts.valid, v.counts.merged_duplicate) == (31, 30, 1)
    merged = person(v, older["email"])
    assert merged["status"] == "unsubscribed"  # consent wins over the newer "subscribed" entry
    assert merged["row_id"] == 6 and merged["Legacy ID"] == newer["id"]  # the latest entry wins fields
    (group,) = v.duplicates.to_dicts()
    assert (group["rows"], group["statuses"], group["lines"]) == (2, ["unsubscribed", "subscribed"], [8, 7])
    (loser,) = v.not_valid.to_dicts()
    assert (loser["outcome"], loser["row_id"], loser["source_line"]) == ("merged_duplicate", 7, 8)
    assert loser["reason"] == f"same address as {result.source}:7 (merged into that row)"


@pytest.mark.parametrize("before, after", [("subscribed", "unsubscribed"), ("unsubscribed", "subscribed")])
def test_a_status_change_during_paging_lists_the_contact_twice_and_the_unsubscribe_wins(
    legacy_api_factory: LegacyFactory, tmp_path: Path, before: str, after: str
) -> None:
    api = legacy_api_factory(contacts=450, clock=FakeClock())
    contacts = api.app.contacts()
    mover = next(c for c in contacts[:200] if c["status"] == before)
    api.app.move_after_page(0, mover["id"], status=after)
    result = run(api, tmp_path)
    # read 1 lists the mover on page 1 and again at the end, and skips contacts[200] (shifted onto page 1);
    # the repeat triggers read 2, which adds contacts[200] (everything else it lists is identical)
    assert api.app.served_list_offsets() == [0, 200, 400, 0, 200, 400]
    assert result.second_read and result.records == 451 and "1 contact(s) listed twice" in result.warnings[0]
    mover_rows = result.frame.filter(pl.col("id") == mover["id"])
    assert mover_rows["status"].to_list() == [before, after]
    assert result.frame.filter(pl.col("id") == contacts[200]["id"])["row_id"].to_list() == [450 + 199]
    v = validated(result)
    assert (v.counts.rows_read, v.counts.valid, v.counts.merged_duplicate) == (451, 450, 1)
    assert set(v.canonical["Legacy ID"].to_list()) == {c["id"] for c in contacts}  # everyone, once
    assert person(v, mover["email"])["status"] == "unsubscribed"


def test_a_status_filtered_read_merges_case_variants_too(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=30, clock=FakeClock())
    first = api.app.contacts()[0]
    api.app.add_case_variant(first["id"], status="subscribed", listed_first=False)
    result = run(api, tmp_path, status="subscribed")
    v = validated(result)
    assert (v.counts.rows_read, v.counts.merged_duplicate) == (27, 1)
    assert v.canonical.height == 26 and person(v, first["email"])["status"] == "subscribed"


def test_a_contact_leaving_a_status_filtered_listing_is_looked_up_and_its_unsubscribe_kept(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=450, clock=FakeClock())
    subscribed = [c for c in api.app.contacts() if c["status"] == "subscribed"]
    leaver = subscribed[50]
    api.app.move_after_page(0, leaver["id"], status="unsubscribed")  # leaves the subscribed listing
    result = run(api, tmp_path, status="subscribed")
    lookups = [r.path for r in api.app.requests if r.path != "/api/v1/contacts"]
    assert lookups == [f"/api/v1/contacts/{leaver['id']}"]
    assert result.second_read and any("looked up by id; 0 no longer exist" in w for w in result.warnings)
    assert result.frame.filter(pl.col("id") == leaver["id"])["status"].to_list() == [
        "subscribed",
        "unsubscribed",
    ]
    v = validated(result)
    assert v.counts.merged_duplicate == 1 and person(v, leaver["email"])["status"] == "unsubscribed"
    assert set(v.canonical["Legacy ID"].to_list()) == {c["id"] for c in subscribed}  # nobody skipped

    api.app.fail_rate = 1.0  # rebuilt from the snapshot, look-up included
    again = run(api, tmp_path, status="subscribed")
    assert again.from_snapshot and again.requests == 0 and again.frame.equals(result.frame)


def test_a_contact_deleted_while_paging_is_kept_as_listed(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(contacts=300, clock=FakeClock())
    victim = api.app.contacts()[10]

    def delete_after_first_page(offset: int, count: int, total: int | None) -> None:
        if offset == 0 and len(api.app.requests) == 1:
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as c:
                c.delete(f"/api/v1/contacts/{victim['id']}")

    result = run(api, tmp_path, on_page=delete_after_first_page)
    assert [r.path for r in api.app.requests][-1] == f"/api/v1/contacts/{victim['id']}"
    assert api.app.statuses[-1] == 404
    assert any("1 no longer exist and are kept as first listed" in w for w in result.warnings)
    # the first read listed 299 (the contact shifted onto page 1 was skipped), the second read found it
    assert result.records == 300 and result.frame.filter(pl.col("row_id") >= 299).height == 1
    assert set(result.frame["id"].to_list()) == {c["id"] for c in api.app.contacts()} | {victim["id"]}


def test_token_is_never_persisted_logged_or_raised(
    legacy_api_factory: LegacyFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "lgcy_S3cr3t_tok_8f2a9c"
    api = legacy_api_factory(tokens={token: "ws"}, fail_offsets={200}, drop_at={0})
    api.app.seed_contacts(450, workspace="ws")
    caplog.set_level(logging.DEBUG)
    result = run(api, tmp_path)
    with pytest.raises(AuthError) as info:
        extract_legacy(api.url, Secret(token + "x"), state_dir=tmp_path, clock=FakeClock())
    assert result.frame.height == 450 and caplog.records  # retries were logged
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert blobs and (tmp_path / STATE_DB_NAME).exists()
    texts = [
        *blobs,
        str(info.value).encode(),
        repr(info.value).encode(),
        caplog.text.encode(),
        repr(result).encode(),
    ]
    assert not any(token.encode() in t for t in texts)


def test_two_workspaces_on_one_host_never_share_a_snapshot(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    api = legacy_api_factory(tokens={"tok_a": "ws-a", "tok_b": "ws-b"})
    api.app.seed_contacts(10, workspace="ws-a")
    api.app.seed_contacts(3, workspace="ws-b")
    a = extract_legacy(api.url, Secret("tok_a"), state_dir=tmp_path, clock=FakeClock())
    b = extract_legacy(api.url, Secret("tok_b"), state_dir=tmp_path, clock=FakeClock())
    assert (a.frame.height, b.frame.height) == (10, 3) and not b.from_snapshot
    assert extract_legacy(api.url, Secret("tok_a"), state_dir=tmp_path, clock=FakeClock()).from_snapshot


def test_an_unreadable_snapshot_is_a_config_error(legacy_api: LegacyServer, tmp_path: Path) -> None:
    (tmp_path / STATE_DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a usable legacy snapshot"):
        run(legacy_api, tmp_path)
    assert legacy_api.app.requests == []


def test_a_legacy_outage_is_waited_out_with_max_outage(
    legacy_api_factory: LegacyFactory, tmp_path: Path
) -> None:
    """Issue #12 item 1: a run of failures longer than the retries is an outage, waited out (one line when it
    starts and one when it ends), where without ``--max-outage`` the extract gives up."""
    from etl.retry import Patience

    api = legacy_api_factory(contacts=1000, fail_at=set(range(2, 14)))
    with pytest.raises(InputError, match="after 5 retries"):
        run(api, tmp_path / "a")
    lines: list[str] = []
    api = legacy_api_factory(contacts=1000, fail_at=set(range(2, 14)))
    clock = FakeClock()
    result = run(api, tmp_path / "b", clock=clock, patience=Patience(max_outage=3600, on_event=lines.append))
    assert result.frame.height == 1000 and result.retries == 12
    assert "is failing" in lines[0] and "is back after" in lines[-1]
    assert all("still failing" in x for x in lines[1:-1]) and len(lines) <= 4  # not one line per retry
    assert max(clock.sleeps) <= 300.0
