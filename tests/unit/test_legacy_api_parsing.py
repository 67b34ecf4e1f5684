"""Pure parts of the legacy-API extractor: source syntax, frame building, and response parsing (MockTransport)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import AuthError, ConfigError, InputError
from etl.extract.legacy_api import (
    CORE_COLUMNS,
    build_frame,
    extract_legacy,
    is_legacy_source,
    legacy_token_from_env,
    parse_legacy_source,
)

SRC = "https://legacy.example/api/v1/contacts"


@pytest.mark.parametrize(
    "source, url",
    [
        ("legacy+https://legacy.example", "https://legacy.example"),
        ("legacy+https://legacy.example/base/", "https://legacy.example/base"),
        ("  LEGACY+HTTPS://legacy.example:8443/x ", "https://legacy.example:8443/x"),
        ("legacy+http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("legacy+http://localhost:9/api", "http://localhost:9/api"),
    ],
)
def test_parse_legacy_source(source: str, url: str) -> None:
    assert is_legacy_source(source)
    assert parse_legacy_source(source) == url


@pytest.mark.parametrize(
    "source, message",
    [
        ("https://legacy.example", "not a legacy API source"),
        ("legacy+http://legacy.example", "only allowed for a loopback host"),
        ("legacy+https://user:tok@legacy.example", "LEGACY_API_TOKEN"),
        ("legacy+https://legacy.example/?token=x", "no query string"),
        ("legacy+https://", "no host"),
    ],
)
def test_parse_legacy_source_refuses(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_legacy_source(source)


def test_is_legacy_source_is_false_for_files() -> None:
    assert not any(is_legacy_source(s) for s in ("export.csv", "legacy.csv", "https://x", "legacy+ftp://x"))


def test_token_from_env() -> None:
    assert legacy_token_from_env({"LEGACY_API_TOKEN": " tok \n"}) == Secret("tok")
    with pytest.raises(ConfigError, match="LEGACY_API_TOKEN is not set"):
        legacy_token_from_env({"LEGACY_API_TOKEN": "  "})


def record(email: str | None, **extra: object) -> dict:
    return {
        "id": f"id-{email}",
        "email": email,
        "first_name": "A",
        "last_name": None,
        "status": "subscribed",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
        **extra,
    }


PROPS = {
    "email": "other@x.io",
    "row_id": 9,
    "vip": True,
    "score": 1.5,
    "tags": ["a", "b"],
    "meta": {"k": "v"},
    "blank": "",
    "": "nameless",
    "properties.email": "x",
}


def test_build_frame_renders_values_as_csv_text_and_prefixes_colliding_keys() -> None:
    pages = [
        (0, [record("a@x.io", properties=PROPS, source="web")]),
        (1, [record("b@x.io", properties=None), record("c@x.io")]),
    ]
    frame, props = build_frame(pages, SRC)
    assert frame.columns == [
        "row_id",
        "source_file",
        "source_line",
        *CORE_COLUMNS,
        "source",
        "properties.email",
        "properties.row_id",
        "vip",
        "score",
        "tags",
        "meta",
        "blank",
        "properties.",
        "properties.properties.email",
    ]
    assert props["properties.email"] == "email" and props["vip"] == "vip" and props["properties."] == ""
    assert props["properties.properties.email"] == "properties.email"
    first = frame.row(0, named=True)
    assert (first["email"], first["properties.email"], first["properties.row_id"]) == (
        "a@x.io",
        "other@x.io",
        "9",
    )
    assert (first["vip"], first["score"], first["tags"], first["meta"]) == (
        "true",
        "1.5",
        '["a","b"]',
        '{"k":"v"}',
    )
    assert first["blank"] is None and first["last_name"] is None and first["source"] == "web"
    assert frame["source"].to_list() == ["web", None, None]
    assert frame["row_id"].to_list() == [0, 1, 2] and frame["source_line"].to_list() == [1, 2, 3]
    assert frame["source_file"].to_list() == [SRC] * 3


def test_a_name_taken_twice_gets_a_numbered_suffix() -> None:
    pages = [
        (
            0,
            [
                record("a@x.io", **{"properties.city": "top"}, properties={"city": "Lyon"}),
                record("b@x.io", city="top-level", properties={"city": "Oslo"}),
            ],
        )
    ]
    frame, props = build_frame(pages, SRC)
    assert props == {"properties.city__2": "city"}
    assert frame["properties.city__2"].to_list() == ["Lyon", "Oslo"]


def test_build_frame_keeps_every_entry_in_listing_order() -> None:
    """Entries of one person are not collapsed here: validate merges them like a file's duplicate rows."""
    pages = [
        (200, [record(" B@x.io"), record(None)]),
        (0, [record("a@x.io"), record("b@X.IO "), record(""), record(None)]),
    ]
    frame, _ = build_frame(pages, SRC)
    assert frame["row_id"].to_list() == [0, 1, 2, 3, 200, 201]  # offsets in listing order
    assert frame["source_line"].to_list() == [1, 2, 3, 4, 201, 202]
    assert frame["email"].to_list() == ["a@x.io", "b@X.IO ", None, None, " B@x.io", None]


def test_a_second_read_adds_only_entries_no_read_listed_identically() -> None:
    a, b, c = record("a@x.io"), record("b@x.io"), record("c@x.io")
    b_unsub = {**b, "status": "unsubscribed", "updated_at": "2026-01-03T00:00:00Z"}
    first = [(0, [a, b]), (2, [b])]  # b listed twice: the listing moved, c was skipped
    second = [(0, [a, c]), (2, [b_unsub, c])]
    frame, _ = build_frame(first, SRC, second)
    # the second read starts after the first read's 3 entries: c at 3 + 1, b's new status at 3 + 2
    assert frame["row_id"].to_list() == [0, 1, 2, 4, 5]
    assert frame["source_line"].to_list() == [1, 2, 3, 2, 3]  # the second read's own offsets + 1
    assert frame["source_file"].to_list() == [SRC] * 3 + [f"{SRC} (second read)"] * 2
    assert frame["email"].to_list() == ["a@x.io", "b@x.io", "b@x.io", "c@x.io", "b@x.io"]
    assert frame["status"].to_list()[-1] == "unsubscribed"
    assert build_frame(first, SRC, first)[0].equals(
        build_frame(first, SRC)[0]
    )  # a quiet re-read adds nothing


def test_build_frame_of_nothing_has_the_core_columns() -> None:
    frame, props = build_frame([], SRC)
    assert frame.columns == ["row_id", "source_file", "source_line", *CORE_COLUMNS] and frame.height == 0
    assert frame.schema["row_id"] == pl.Int64 and props == {}


def mock(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


def extract(tmp_path: Path, handler, **kw) -> object:  # type: ignore[no-untyped-def]
    kw.setdefault("clock", FakeClock())
    return extract_legacy(
        "https://legacy.example/api/v1/",
        Secret("tok"),
        state_dir=tmp_path,
        client=mock(handler),
        rng=random.Random(0),
        **kw,
    )


def test_listing_url_tolerates_an_api_suffix_and_sends_the_bearer(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    result = extract(tmp_path, handler)
    assert str(seen[0].url) == "https://legacy.example/api/v1/contacts?limit=200&offset=0"
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert result.source == SRC and result.frame.height == 0  # type: ignore[attr-defined]


def test_a_server_capped_limit_does_not_end_paging_early(tmp_path: Path) -> None:
    people = [record(f"p{i}@x.io") for i in range(250)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return httpx.Response(200, json={"data": people[offset : offset + 100], "limit": 100})

    result = extract(tmp_path, handler)
    assert result.frame.height == 250 and result.requests == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "response, error, message",
    [
        (httpx.Response(403, json={"error": {"code": "forbidden", "message": "no"}}), AuthError, r"\(403\)"),
        (httpx.Response(302, headers={"Location": "https://elsewhere/"}), InputError, "HTTP 302"),
        (httpx.Response(200, text="<html>"), InputError, "not JSON at offset 0"),
        (httpx.Response(200, json={"items": []}), InputError, "neither a list nor"),
        (
            httpx.Response(200, json=[record("a@x.io"), "oops"]),
            InputError,
            r"contacts:2: legacy API returned a record",
        ),
        (
            httpx.Response(400, json={"error": {"code": "invalid_request", "message": "bad\nlimit"}}),
            InputError,
            "400 invalid_request: bad limit$",
        ),
    ],
)
def test_unusable_responses(tmp_path: Path, response: httpx.Response, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        extract(tmp_path, lambda request: response)


def test_retry_after_as_http_date_and_429(tmp_path: Path) -> None:
    clock = FakeClock()
    when = format_datetime(datetime.fromtimestamp(clock.now() + 12, UTC), usegmt=True)
    replies = [
        httpx.Response(429, headers={"Retry-After": when}),
        httpx.Response(503),
        httpx.Response(200, json=[]),
    ]
    result = extract(tmp_path, lambda request: replies.pop(0), clock=clock)
    assert clock.sleeps[0] == 12.0 and 1.0 <= clock.sleeps[1] <= 2.0  # second retry: 2 s, equal jitter
    assert result.retries == 2  # type: ignore[attr-defined]


def test_snapshot_holds_pages_as_json(tmp_path: Path) -> None:
    import sqlite3

    extract(tmp_path, lambda request: httpx.Response(200, json=[record("a@x.io", properties={"n": 1})]))
    with sqlite3.connect(tmp_path / "legacy_extract.db") as db:
        (done,) = db.execute("SELECT done FROM extractions").fetchone()
        (text,) = db.execute("SELECT records FROM pages").fetchone()
    assert done == 1 and json.loads(text)[0]["properties"] == {"n": 1}


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"page_size": 0}, "page size"),
        ({"page_size": 201}, "page size"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_settings(tmp_path: Path, kw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        extract(tmp_path, lambda request: httpx.Response(200, json=[]), **kw)


def test_a_listing_that_moved_is_read_a_second_time_and_rebuilt_from_the_snapshot(tmp_path: Path) -> None:
    """Page 1 lists b, which then moves to the end: page 2 lists it again and c, pushed onto page 1, is
    never listed. The repeat triggers a second read, which finds c; both reads are snapshotted."""
    a, b, c, d = (record(e) for e in ("a@x.io", "b@x.io", "c@x.io", "d@x.io"))
    b2 = {**b, "status": "unsubscribed", "updated_at": "2026-01-05T00:00:00Z"}
    moved = [[a, b], [d, b2], []]  # what paging saw the first time
    settled = [[a, c], [d, b2], []]
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["offset"])
        pages = moved if len(asked) <= 2 else settled
        return httpx.Response(200, json=pages[int(request.url.params["offset"]) // 2])

    result = extract(tmp_path, handler, page_size=2)
    assert asked == ["0", "2", "4", "0", "2", "4"] and result.second_read  # type: ignore[attr-defined]
    frame = result.frame  # type: ignore[attr-defined]
    assert frame["email"].to_list() == ["a@x.io", "b@x.io", "d@x.io", "b@x.io", "c@x.io"]
    assert frame["row_id"].to_list() == [0, 1, 2, 3, 5]  # c: first read's 4 entries + offset 1
    (warning,) = result.warnings  # type: ignore[attr-defined]
    assert "1 contact(s) listed twice" in warning and "1 new or changed entry added" in warning
    again = extract(tmp_path, lambda request: httpx.Response(500))
    assert again.from_snapshot and again.requests == 0 and again.frame.equals(frame)  # type: ignore[attr-defined]


def test_a_listing_still_moving_during_the_second_read_is_warned_about(tmp_path: Path) -> None:
    totals = iter([3, 4, 4, 5])

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        items = [record(f"p{offset + i}@x.io") for i in range(2 if offset == 0 else 1)]
        return httpx.Response(200, json={"data": items, "total": next(totals)})

    result = extract(tmp_path, handler, page_size=2)
    first, second = result.warnings  # type: ignore[attr-defined]
    assert "total 3 → 4" in first and "still changing during the second read" in second


def test_look_ups_of_contacts_the_second_read_missed_are_checkpointed_one_by_one(tmp_path: Path) -> None:
    a, b, c = record("a@x.io"), record("b@x.io"), record("c@x.io")
    reads = iter([[a, b], [c, c], [], [c]])  # read 1 lists c twice; read 2 lists only c
    contacts = {"id-a@x.io": [httpx.Response(200, json={**a, "status": "unsubscribed"})]}
    contacts["id-b@x.io"] = [httpx.Response(500), httpx.Response(404, json={"error": {"code": "not_found"}})]
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/contacts"):
            return httpx.Response(200, json=next(reads))
        return contacts[request.url.path.rsplit("/", 1)[1]].pop(0)

    with pytest.raises(InputError, match="look-up of contact id-b@x.io"):
        extract(tmp_path, handler, page_size=2, max_retries=0)
    assert asked[-2:] == ["/api/v1/contacts/id-a@x.io", "/api/v1/contacts/id-b@x.io"]
    asked.clear()
    result = extract(tmp_path, handler, page_size=2, max_retries=0)
    assert asked == ["/api/v1/contacts/id-b@x.io"]  # a's answer was saved: only b is asked again
    frame = result.frame  # type: ignore[attr-defined]
    assert frame["status"].to_list() == ["subscribed"] * 4 + ["unsubscribed"]
    assert frame["row_id"].to_list() == [0, 1, 2, 3, 4 + 1 + 0]  # look-ups follow both reads
    assert frame.row(4, named=True)["source_file"] == "https://legacy.example/api/v1/contacts/id-a@x.io"
    assert any("2 contact(s) listed by the first read" in w for w in result.warnings)  # type: ignore[attr-defined]
    assert any("1 no longer exist" in w for w in result.warnings)  # type: ignore[attr-defined]
