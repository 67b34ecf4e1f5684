"""The cut-over delta's three-way merge, field by field: source (plan), Benchmark (doc), base (last written)."""

from __future__ import annotations

from typing import Any

import pytest

from etl.load.decide import THREE_WAY, Conflict, decide, put_body, three_way
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, Outcome, PlannedContact
from tests.unit.decide_support import F1, F2, L1, L2, T1, doc, plan

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


# --- the base: what the state dir wrote last, from the ledger ------------------------------------------------
def _written(ledger: Any, run_id: str, plans: list[PlannedContact], outcome: str, **target: Any) -> None:
    run = ledger.run(run_id)
    run.start(base_url=target.get("base_url", "http://t"), structure_id=target.get("structure_id", "s"))
    run.add_plan(plans)
    for i, p in enumerate(plans):
        run.settle(p.key, state="done", outcome=outcome, contact_id=str(i), version=i + 1)
    run.flush()


def test_bases_are_the_latest_earlier_written_plans_of_the_same_target(tmp_path: Any) -> None:
    import time

    from etl.load.ledger import Ledger

    v1, v2 = plan(fields=((F1, "One"),)), plan(fields=((F1, "Two"),))
    other = plan(key="other@x.com")
    with Ledger.open(tmp_path) as ledger:
        _written(ledger, "r1", [v1, other], "created")
        time.sleep(0.01)
        _written(ledger, "r2", [v2], "updated")
        time.sleep(0.01)
        _written(ledger, "skipped", [plan(fields=((F1, "Skip"),))], "skipped")  # never written: no base
        _written(ledger, "elsewhere", [plan(fields=((F1, "X"),))], "created", structure_id="s2")
        time.sleep(0.01)
        current = ledger.run("r3")
        current.start(base_url="http://t", structure_id="s")
        bases = current.bases()
        assert bases == {"jane@x.com": (v2, 1), "other@x.com": (other, 2)}
        assert ledger.run("r1").bases() == {}  # a run started earlier never sees a later one
        current.add_plan([v2])
        changes = current.changes_since_last_run()
        assert changes is not None and changes["gone_from_source"] == {"count": 1, "keys": ["other@x.com"]}
        assert ledger.run("elsewhere").changes_since_last_run() is None  # nothing written there before


def test_a_ledger_from_before_the_delta_is_migrated_and_its_runs_are_bases(tmp_path: Any) -> None:
    """A ledger written by the previous version (migrations 1–3, no ``version`` column): opened, migrated
    in place, its done contacts are bases without a ``__v`` (the update then reads it first)."""
    import sqlite3
    import time

    from etl.load.ledger import MIGRATIONS, Ledger, plan_to_json

    db = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, fn in MIGRATIONS[:3]:
        fn(db)
        db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
    db.execute(
        "INSERT INTO runs (run_id, created_at, updated_at, state, base_url, structure_id)"
        " VALUES ('old', 1, 1, 'complete', 'http://t', 's')"
    )
    db.execute(
        "INSERT INTO contacts (run_id, key, seq, payload_hash, plan, state, outcome)"
        " VALUES ('old', 'jane@x.com', 0, 'h', ?, 'done', 'created')",
        (plan_to_json(plan()),),
    )
    db.close()
    with Ledger.open(tmp_path) as ledger:
        run = ledger.run("new")
        run.start(base_url="http://t", structure_id="s")
        assert run.bases() == {"jane@x.com": (plan(), None)}
