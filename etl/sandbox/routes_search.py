"""``POST /api/contact/search`` (docs/reference/benchmark-api.md §7): strict body, OR of groups, AND of criteria, EQ only.

The strictness is the point: all five properties are required, ``source`` values are checked case by case,
unknown operators and multi-value EQ (unless the knob allows it) are 400s, so a client cannot come to rely
on behaviour the provider never promised. Order is ``(createdAt, _id)`` so pages never overlap.
"""

from __future__ import annotations

from typing import Any

from etl.sandbox.apierror import is_object_id, require_object_id, validation
from etl.sandbox.http import Response
from etl.sandbox.routing import MAX_PAGING_INT, Ctx
from etl.sandbox.search_sql import Query
from etl.sandbox.store import ContactRow, StructureRow

SOURCES = (
    "_id",
    "key",
    "fields",
    "tags",
    "lists",
    "contactStatus",
    "contactSubStatus",
    "createdAt",
    "updatedAt",
)
REQUIRED = ("contactStructureId", "page", "pageSize", "source", "contactSpecification")
COLUMNS = ("KEY", "LIST_ID", "FIELD_ID")
OPERATORS = ("EQ",)

Condition = tuple[str, str | None, list[str]]


def _positive_int(body: dict[str, Any], name: str, maximum: int | None = None) -> int:
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise validation(f"{name} must be a positive integer", field=name)
    if maximum is not None and value > maximum:
        raise validation(f"{name} must not exceed {maximum}", field=name)
    return value


def _source(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise validation("source must be a non-empty array", field="source")
    for item in raw:
        if item not in SOURCES:
            raise validation(f"Invalid source value {item!r}; allowed: {', '.join(SOURCES)}", field="source")
    return list(raw)


def _criterion(raw: Any, structure: StructureRow, multi: bool) -> Condition:
    if not isinstance(raw, dict):
        raise validation("each criterion must be an object", field="criterias")
    column, operator, values = raw.get("columnToFilter"), raw.get("operator"), raw.get("values")
    if column not in COLUMNS:
        raise validation(f"columnToFilter must be one of {', '.join(COLUMNS)}", field="columnToFilter")
    if operator not in OPERATORS:
        raise validation(
            f"Unsupported operator {operator!r}; supported: {', '.join(OPERATORS)}", field="operator"
        )
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise validation("values must be a non-empty array of strings", field="values")
    if len(values) > 1 and not multi:
        raise validation("EQ takes exactly one value", field="values")
    field_id: str | None = None
    if column == "FIELD_ID":
        field_id = require_object_id(raw.get("fieldId"), "fieldId")
        if field_id not in structure.field_ids:
            raise validation(f"Unknown field {field_id}", field="fieldId", field_id=field_id)
    if column == "LIST_ID" and not all(is_object_id(v) for v in values):
        raise validation("LIST_ID values must be list ids", field="values")
    return column, field_id, list(values)


def _groups(spec: Any, structure: StructureRow, multi: bool) -> list[list[Condition]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("filters"), list):
        raise validation(
            "contactSpecification must be an object with a filters array", field="contactSpecification"
        )
    groups: list[list[Condition]] = []
    for group in spec["filters"]:
        if (
            not isinstance(group, dict)
            or not isinstance(group.get("criterias"), list)
            or not group["criterias"]
        ):
            raise validation("each filter group must have a non-empty criterias array", field="criterias")
        groups.append([_criterion(c, structure, multi) for c in group["criterias"]])
    return groups


def _project(c: ContactRow, s: StructureRow, source: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": c.id}
    for name in SOURCES[1:]:
        if name not in source:
            continue
        if name == "key":
            doc["key"] = c.key
        elif name == "fields":
            doc["fields"] = [{"_id": f, "value": v} for f, v in c.fields if f in s.field_ids]
        elif name == "tags":
            doc["tags"] = [{"_id": t} for t in c.tags if t in s.tag_ids]
        elif name == "lists":
            doc["lists"] = [{"_id": lid} for lid in c.lists]
        elif name == "contactStatus":
            doc["contactStatus"] = c.status
        elif name == "contactSubStatus":
            if c.secondary is not None:
                doc["contactSubStatus"] = c.secondary
        elif name == "createdAt":
            doc["createdAt"] = c.created_at
        else:
            doc["updatedAt"] = c.updated_at
    doc["contactStructureId"] = c.structure_id
    return doc


def search(ctx: Ctx) -> Response:
    body = ctx.body_object()
    for name in REQUIRED:
        if name not in body:
            raise validation(f"{name} is required", field=name)
    extra = sorted(set(body) - set(REQUIRED))
    if extra:
        raise validation(f"Unknown property {extra[0]}", field=extra[0])
    sid = require_object_id(body["contactStructureId"], "contactStructureId")
    structure = ctx.store.structure(sid)
    if structure is None:
        raise validation(f"Unknown contact structure {sid}", field="contactStructureId", field_id=sid)
    page = _positive_int(body, "page", MAX_PAGING_INT)
    size = _positive_int(body, "pageSize", ctx.knobs.max_page_size)
    source = _source(body["source"])
    groups = _groups(body["contactSpecification"], structure, ctx.knobs.eq_multi_values)
    insensitive = ctx.knobs.key_match == "insensitive"
    total, window = ctx.store.search(Query(sid, groups, insensitive, offset=(page - 1) * size, limit=size))
    rows = ctx.store.contacts_by_ids(window, with_lists="lists" in source)
    return Response.json(
        200, {"contacts": [_project(r, structure, source) for r in rows], "totalRecords": total}
    )
