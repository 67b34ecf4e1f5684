"""The cut-over delta's three-way merge, field by field: source (plan), Benchmark (doc), base (last written)."""

from __future__ import annotations

from typing import Any

import pytest

from etl.load.decide import THREE_WAY, Conflict, decide, put_body, three_way
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, Outcome, PlannedContact

F1, F2, L1, L2, T1 = "f" * 24, "e" * 24, "a" * 24, "b" * 24, "c" * 24


def plan(**kw: Any) -> PlannedContact:
    base: dict[str, Any] = {"key": "jane@x.com", "row_ids": (1,), "fields": ((F1, "Jane"),), "lists": (L1,)}
    base.update(kw)
    return PlannedContact(**base)


def doc(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": "1" * 24,
        "key": "jane@x.com",
        "status": "Active",
        "secondary": None,
        "fields": {F1: "Jane"},
        "lists": [L1],
        "tags": [],
    }
    base.update(kw)
    return base


# (id, source fields, Benchmark fields, base fields, on_conflict, expected fields, updated, conflicts)
FIELD_CASES = [
    ("nothing-changed", {F1: "Jane"}, {F1: "Jane"}, {F1: "Jane"}, "target", {F1: "Jane"}, (), ()),
    ("source-changed", {F1: "Janet"}, {F1: "Jane"}, {F1: "Jane"}, "target", {F1: "Janet"}, (F1,), ()),
    (
        "target-edited",
        {F1: "Jane"},
        {F1: "J."},
        {F1: "Jane"},
        "target",
        {F1: "J."},
        (),
        ((F1, "Jane", "J.", "Jane"),),
    ),
    (
        "target-edited-source-wins",
        {F1: "Jane"},
        {F1: "J."},
        {F1: "Jane"},
        "source",
        {F1: "Jane"},
        (),
        ((F1, "Jane", "J.", "Jane"),),
    ),
    (
        "both-changed-differently",
        {F1: "Janet"},
        {F1: "J."},
        {F1: "Jane"},
        "target",
        {F1: "J."},
        (),
        ((F1, "Janet", "J.", "Jane"),),
    ),
    ("both-changed-alike", {F1: "Janet"}, {F1: "Janet"}, {F1: "Jane"}, "target", {F1: "Janet"}, (), ()),
    ("source-emptied-never-blanks", {}, {F1: "Jane"}, {F1: "Jane"}, "source", {F1: "Jane"}, (), ()),
    (
        "new-field-fills-empty",
        {F2: "Co"},
        {F1: "Jane"},
        {F1: "Jane"},
        "target",
        {F1: "Jane", F2: "Co"},
        (F2,),
        (),
    ),
    (
        "new-field-but-benchmark-has-one",
        {F2: "Co"},
        {F2: "Other"},
        {},
        "target",
        {F2: "Other"},
        (),
        ((F2, "Co", "Other", None),),
    ),
    (
        "target-blanked-source-unchanged",
        {F1: "Jane"},
        {},
        {F1: "Jane"},
        "target",
        {},
        (),
        ((F1, "Jane", "", "Jane"),),
    ),
]


@pytest.mark.parametrize(
    ("source", "target", "was", "side", "fields", "updated", "conflicts"),
    [c[1:] for c in FIELD_CASES],
    ids=[c[0] for c in FIELD_CASES],
)
def test_three_way_field_by_field(
    source: dict[str, str],
    target: dict[str, str],
    was: dict[str, str],
    side: str,
    fields: dict[str, str],
    updated: tuple[str, ...],
    conflicts: tuple[tuple[str, str, str, str | None], ...],
) -> None:
    delta = three_way(
        plan(fields=tuple(sorted(source.items()))),
        doc(fields=target),
        plan(fields=tuple(sorted(was.items()))),
        side,
    )
    assert delta.fields == fields
    assert delta.updated == updated
    assert delta.conflicts == tuple(Conflict(*c) for c in conflicts)


def test_lists_and_tags_added_since_the_base_are_added_and_nothing_is_removed() -> None:
    # L2 and T1 are new in the source; L1 was in the base but removed in Benchmark since: stays removed
    delta = three_way(plan(lists=(L1, L2), tags=(T1,)), doc(lists=[]), plan(lists=(L1,)))
    assert delta.lists == [L2] and delta.tags == [T1]
    assert three_way(plan(lists=()), doc(lists=[L1, L2]), plan(lists=(L1,))).lists == [L1, L2]


@pytest.mark.parametrize(
    ("source_status", "target_status", "patch"),
    [(BME_INACTIVE, "Active", True), ("Active", BME_INACTIVE, False), (BME_INACTIVE, BME_INACTIVE, False)],
    ids=["unsubscribe-applied", "never-reactivated", "already-inactive"],
)
def test_status_moves_only_toward_inactive(source_status: str, target_status: str, patch: bool) -> None:
    secondary = BME_UNSUBSCRIBE if source_status == BME_INACTIVE else None
    d = decide(
        plan(status=source_status, secondary=secondary),
        doc(status=target_status),
        THREE_WAY,
        base=plan(),
    )
    assert d.patch is patch and not d.put
    assert d.outcome == (Outcome.UPDATED if patch else Outcome.UNCHANGED)


def test_decide_three_way_reports_conflicts_and_writes_only_source_changes() -> None:
    base = plan(fields=((F1, "Jane"), (F2, "Co")))
    edited = doc(fields={F1: "J.", F2: "Co"})
    source = plan(fields=((F1, "Jane"), (F2, "New Co")))
    d = decide(source, edited, THREE_WAY, base=base)
    assert d.outcome == Outcome.UPDATED and d.put and not d.patch
    assert d.updated == (F2,) and d.conflicts == (Conflict(F1, "Jane", "J.", "Jane"),)
    body = put_body(
        source,
        {**edited, "fields": [{"_id": F1, "value": "J."}, {"_id": F2, "value": "Co"}], "__v": 3},
        THREE_WAY,
        base=base,
    )
    assert body is not None and body["__v"] == 3
    assert {f["_id"]: f["value"] for f in body["fields"]} == {F1: "J.", F2: "New Co"}
    # a conflict alone, kept: nothing to write; with the source winning: a PUT
    kept = decide(plan(), doc(fields={F1: "J."}), THREE_WAY, base=plan())
    assert kept.outcome == Outcome.UNCHANGED and not kept.put and len(kept.conflicts) == 1
    assert decide(plan(), doc(fields={F1: "J."}), THREE_WAY, base=plan(), on_conflict="source").put


def test_three_way_without_a_base_or_with_a_bad_side_is_refused() -> None:
    with pytest.raises(ValueError, match="base"):
        decide(plan(), doc(), THREE_WAY)
    with pytest.raises(ValueError, match="on_conflict"):
        three_way(plan(), doc(), plan(), "newest")
