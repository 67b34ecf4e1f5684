"""The offline mapping plan and its report section: every source column classified exactly once, with why."""

from __future__ import annotations

import json
from pathlib import Path

from etl.mapping.plan import KINDS, build_plan, mapping_report, plan_lines
from etl.model import FieldColumn
from etl.presets.preset import load_preset

PRESET = """
title = "Test"
unmapped = "ignore"
ignore = ["Rating"]
event_time = ["Changed"]
[email]
aliases = ["Email"]
[[fields]]
source = ["First Name", "FNAME"]
target = "First Name"
predefined = "firstName"
[[fields]]
source = "Age"
target = "Age"
type = "number"
[status]
column = "Status"
[status.values]
active = "subscribed"
[[status.flags]]
column = "Unsub"
status = "unsubscribed"
values = ["yes"]
[tags]
column = "Tags"
format = "semicolon"
[lists]
mode = "column"
column = "Lists"
separator = "|"
"""


def test_every_column_gets_exactly_one_route_with_a_reason(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(PRESET, encoding="utf-8")
    preset = load_preset(f)
    headers = [
        "Email",
        "First Name",
        "FNAME",
        "Age",
        "Status",
        "Unsub",
        "Tags",
        "Lists",
        "Changed",
        "Rating",
        "Colour",
    ]
    cols = [
        FieldColumn("First Name", "First Name", predefined="firstName"),
        FieldColumn("Age", "Age", "number"),
    ]
    plan = build_plan(preset, headers, cols)
    routes = {r.source: r for r in plan.columns}
    assert [r.source for r in plan.columns] == headers
    assert {r.kind for r in plan.columns} <= set(KINDS)
    assert routes["Email"].kind == "email"
    assert (routes["First Name"].kind, routes["First Name"].note) == ("field", "predefined firstName")
    assert routes["FNAME"].note == "another column already feeds 'First Name'"
    assert routes["Age"].data_type == "number" and routes["Age"].target_id is None
    assert routes["Status"].kind == "status" and "active → subscribed" in routes["Status"].note
    assert routes["Unsub"].note == "when is 'yes' → unsubscribed"
    assert routes["Tags"].note == "format semicolon" and routes["Lists"].note == "separator '|'"
    assert routes["Changed"].kind == "event_time"
    assert routes["Rating"].note == "listed in the t preset's ignore"
    assert "unmapped = ignore" in routes["Colour"].note

    doc = mapping_report(plan)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types only
    assert doc["structure"] is None and doc["requests"] == 0 and len(doc["columns"]) == len(headers)
    lines = plan_lines(plan)
    assert lines[0] == "preset: t" and any("Colour" in line and "ignored" in line for line in lines)
