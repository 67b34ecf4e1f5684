"""The export's CSV → index documents: what the column learning accepts and every doubt it refuses."""

from __future__ import annotations

import pytest

from etl.load.accounts import AccountNotes, Verdict
from etl.load.export_read import ExportDoubt, read_export

F1, F2, L1, L2, T1 = "a" * 24, "b" * 24, "c" * 24, "d" * 24, "e" * 24
STRUCTURE = {
    "keyName": "Email",
    "fields": [{"_id": F1, "label": "First Name"}, {"_id": F2, "label": "Status"}],  # a field named Status
    "tags": [{"_id": T1, "label": "VIP"}],
}
LISTS = {L1: L1, L2: L2, "News": L1, "Customers": L2}


def _read(text: str, total: int = 1, lists: dict[str, str] | None = None) -> dict[str, dict]:  # type: ignore[type-arg]
    docs, _ = read_export("text/csv", text.encode(), STRUCTURE, lambda: lists or LISTS, total)
    return docs


def test_label_columns_map_names_and_labels_to_ids_and_a_field_may_share_a_role_name() -> None:
    text = (
        "Contact Id,Email,Status,Sub Status,First Name,Status,Lists,Tags\r\n"
        "x1,Jane@Example.com,Inactive,Unsubscribe,Jane,gold,News;Customers,VIP\r\n"
    )
    doc = _read(text)["jane@example.com"]
    assert doc == {
        "_id": "x1",
        "key": "Jane@Example.com",
        "status": "Inactive",
        "secondary": "Unsubscribe",
        "fields": {F1: "Jane", F2: "gold"},
        "lists": sorted([L1, L2]),
        "tags": [T1],
    }


def test_id_columns_and_empty_cells() -> None:
    text = (
        f"_id,key,contactStatus,contactSubStatus,{F1},{F2},lists,tags,createdAt\nx1,a@x.com,Active,,,,,,t\n"
    )
    doc = _read(text)["a@x.com"]
    assert doc["fields"] == {} and doc["lists"] == [] and doc["tags"] == [] and doc["secondary"] is None


@pytest.mark.parametrize(
    ("text", "total", "why"),
    [
        ("Email,Status,First Name,Status,Lists,Tags\nx@x.com,Active,,,,\n", 1, "no column for id"),
        (f"_id,key,contactStatus,{F1},lists,tags\nx1,a@x.com,Active,,,\n", 1, "no column for Status"),
        (f"_id,key,contactStatus,{F1},{F2},lists,tags\nx1,a@x.com,Active,,,,\n", 2, "search counts 2"),
        (f"_id,key,contactStatus,{F1},{F2},lists,tags\nx1,a@x.com,Active,,,Gone,\n", 1, "'Gone'"),
        (f"_id,key,contactStatus,{F1},{F2},lists,tags\nx1,a@x.com,Active\n", 1, "has 3 cells"),
        ("", 0, "empty"),
        ("Contact Id,Email,First Name,Status,Status,Lists,Tags\nx1,a@x.com,,gold,Active,,\n", 1, "'gold'"),
    ],
)
def test_doubts(text: str, total: int, why: str) -> None:
    with pytest.raises(ExportDoubt, match=why):
        _read(text, total)


def test_a_list_name_two_lists_share_is_a_doubt_and_garbage_is_refused() -> None:
    from etl.load.export_read import name_map

    shared = name_map([{"_id": L1, "name": "News"}, {"_id": L2, "name": "News"}], "name")
    text = f"_id,key,contactStatus,{F1},{F2},lists,tags\nx1,a@x.com,Active,,,News,\n"
    with pytest.raises(ExportDoubt, match="'News'"):
        _read(text, 1, shared)
    with pytest.raises(ExportDoubt, match="not UTF-8"):
        read_export("text/csv", b"\xff\xfe\x00garbage", STRUCTURE, dict, 0)
    with pytest.raises(ExportDoubt, match="not CSV"):
        read_export("application/json", b"{}", STRUCTURE, dict, 0)


def test_verdicts_are_kept_per_account_and_a_readonly_store_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    notes = AccountNotes(tmp_path)
    a, b = AccountNotes.account("https://x/", "s1"), AccountNotes.account("https://x", "s2")
    assert notes.export_verdict(a) is None
    notes.remember_export(a, Verdict(False, "404", "2026-01-01T00:00:00Z"))
    assert notes.export_verdict(a) == Verdict(False, "404", "2026-01-01T00:00:00Z")
    assert notes.export_verdict(b) is None
    AccountNotes(tmp_path / "dry", readonly=True).remember_export(a, Verdict(True, "", ""))
    assert not (tmp_path / "dry").exists()
    (tmp_path / "accounts.json").write_text("{not json", encoding="utf-8")
    assert notes.export_verdict(a) is None  # unreadable: as if nothing were known


def test_a_failed_verdict_holds_a_day_or_a_week_by_its_kind_and_a_usable_one_never_blocks() -> None:
    from etl.load.accounts import DAY, STRUCTURAL, TRANSIENT, parse_iso

    at = "2026-12-01T10:00:00Z"
    made = parse_iso(at)
    assert made is not None
    for kind, days in ((TRANSIENT, 1), (STRUCTURAL, 7), ("", 1)):  # "": written before verdicts had a kind
        verdict = Verdict(False, "why", at, kind)
        assert verdict.retry_after() == made + days * DAY
        assert verdict.holds(made + days * DAY - 1) and not verdict.holds(made + days * DAY)
    assert not Verdict(False, "why", "", STRUCTURAL).holds(made)  # no time: expired (one probe)
    assert not Verdict(True, "columns", at).holds(made)


def test_failures_are_transient_or_structural() -> None:
    from etl.errors import AuthError, InvalidRequest, NotFound, RetriableLoadError
    from etl.load.accounts import STRUCTURAL, TRANSIENT, failure_kind

    transient = [
        RetriableLoadError("POST /api/contact/export: no answer (ReadTimeout)"),
        RetriableLoadError("503", status=503),
        ExportDoubt("the export has 9 contacts but search counts 10", transient=True),
    ]
    structural = [NotFound("404"), InvalidRequest("400"), AuthError("403"), ExportDoubt("no column for id")]
    assert [failure_kind(e) for e in transient] == [TRANSIENT] * 3
    assert [failure_kind(e) for e in structural] == [STRUCTURAL] * 4
    for text, total in (("", 0), (f"_id,key,contactStatus,{F1},{F2},lists,tags\nx1,a@x.com\n", 1)):
        with pytest.raises(ExportDoubt) as cut:
            _read(text, total)
        assert cut.value.transient, text  # an empty or ragged answer is one cut short
    with pytest.raises(ExportDoubt) as missing:
        _read("Email,Status,First Name,Status,Lists,Tags\nx@x.com,Active,,,,\n")
    assert not missing.value.transient
