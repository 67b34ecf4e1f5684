"""The ``on_existing`` policy as a pure function: what a contact needs, and what PUT would send."""

from __future__ import annotations

from typing import Any

import pytest

from etl.load.decide import decide, put_body
from etl.model import BME_INACTIVE, BME_UNSUBSCRIBE, Outcome, PlannedContact
from tests.unit.decide_support import F1, F2, L1, L2, T1, doc, plan

INACTIVE = {"status": BME_INACTIVE, "secondary": BME_UNSUBSCRIBE}

CASES = [
    ("new", plan(), None, "merge", Outcome.CREATED, (True, False, False)),
    ("identical", plan(), doc(), "merge", Outcome.UNCHANGED, (False, False, False)),
    ("new-list", plan(lists=(L1, L2)), doc(), "merge", Outcome.UPDATED, (False, True, False)),
    (
        "fill-empty-field",
        plan(fields=((F1, "Jane"), (F2, "Acme"))),
        doc(),
        "merge",
        Outcome.UPDATED,
        (False, True, False),
    ),
    (
        "never-overwrite-on-merge",
        plan(fields=((F1, "Janet"),)),
        doc(),
        "merge",
        Outcome.UNCHANGED,
        (False, False, False),
    ),
    ("overwrite", plan(fields=((F1, "Janet"),)), doc(), "overwrite", Outcome.UPDATED, (False, True, False)),
    ("unsubscribe-only", plan(**INACTIVE), doc(), "merge", Outcome.UPDATED, (False, False, True)),
    (
        "already-inactive",
        plan(**INACTIVE),
        doc(status="Inactive", secondary="Bounce"),
        "merge",
        Outcome.UNCHANGED,
        (False, False, False),
    ),
    (
        "never-reactivate",
        plan(),
        doc(status="Inactive", secondary="Unsubscribe"),
        "merge",
        Outcome.UNCHANGED,
        (False, False, False),
    ),
    ("skip-differs", plan(lists=(L2,)), doc(), "skip", Outcome.SKIPPED, (False, False, False)),
    (
        "skip-still-unsubscribes",
        plan(lists=(L2,), **INACTIVE),
        doc(),
        "skip",
        Outcome.UPDATED,
        (False, False, True),
    ),
    ("skip-identical", plan(), doc(), "skip", Outcome.UNCHANGED, (False, False, False)),
]


@pytest.mark.parametrize(
    ("p", "d", "policy", "outcome", "actions"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(
    p: PlannedContact,
    d: dict[str, Any] | None,
    policy: str,
    outcome: Outcome,
    actions: tuple[bool, bool, bool],
) -> None:
    decision = decide(p, d, policy)
    assert decision.outcome == outcome
    assert (decision.create, decision.put, decision.patch) == actions


def test_own_contact_is_fixed_towards_the_plan() -> None:
    d = decide(plan(tags=(T1,), **INACTIVE), doc(), "skip", ours=True)
    assert d.outcome == Outcome.CREATED and d.put and d.patch and d.requests == 3


def test_put_body_carries_everything_and_never_blanks() -> None:
    current = {
        "_id": "1" * 24,
        "key": "Jane@X.com",
        "contactStructureId": "9" * 24,
        "__v": 4,
        "fields": [{"_id": F1, "value": "Jane"}, {"_id": F2, "value": ""}],
        "lists": [{"_id": L2}],
        "tags": [],
        "status": {"primary": "Inactive", "secondary": "Bounce"},
        "createdAt": "x",
    }
    body = put_body(plan(fields=((F1, ""), (F2, "Acme"))), current, "overwrite")
    assert body is not None
    assert body["__v"] == 4 and body["key"] == "Jane@X.com" and "createdAt" not in body and "_id" not in body
    assert {f["_id"]: f["value"] for f in body["fields"]} == {F1: "Jane", F2: "Acme"}
    assert body["lists"] == [{"_id": L2}, {"_id": L1}]
    assert body["status"] == {"primary": "Inactive", "secondary": "Bounce"}  # PUT never touches consent
    assert put_body(plan(lists=(L2,), fields=()), current, "merge") is None


def test_unknown_policy_is_an_error() -> None:
    with pytest.raises(ValueError):
        decide(plan(), doc(), "replace")
