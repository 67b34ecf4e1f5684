"""``/api/contact-structure/{id}/lists`` (docs/reference/benchmark-api.md §9.2): lists live under a structure; members on contacts.

Merge, duplicate and delete-many have undocumented bodies; they accept ``{"listIds": [...]}`` (or ``ids``)
and an optional ``name`` as docs/reference/benchmark-api.md suggests, and a client should not depend on them.
"""

from __future__ import annotations

from typing import Any

from etl.sandbox.apierror import not_found, require_object_id, validation
from etl.sandbox.http import Response
from etl.sandbox.render import list_doc
from etl.sandbox.routes_contacts import check_version
from etl.sandbox.routing import MAX_PAGING_INT, Ctx
from etl.sandbox.store import ListRow, StructureRow, iso

MAX_NAME = 1000
MAX_CRITERIA = 50
DEFAULT_SIZE = 25
_SORTS = {"name": "name", "createdAt": "created_at", "updatedAt": "updated_at"}
_READ_ONLY = {"_id", "type", "totalContacts", "totalCampaigns", "createdAt", "updatedAt"}


def _list(ctx: Ctx, s: StructureRow, list_id: object) -> ListRow:
    lid = require_object_id(list_id, "listId")
    row = ctx.store.get_list(s.id, lid)
    if row is None:
        raise not_found("List", lid)
    return row


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise validation("name is required", field="name")
    if len(raw) > MAX_NAME:
        raise validation(f"name must be at most {MAX_NAME} characters", field="name")
    return raw


def _int_query(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.request.query_one(name)
    if raw is None:
        return default
    # ASCII digits only ("²".isdigit() is True), judged by length before int() so 10**5000 stays cheap.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not 1 <= int(raw) <= MAX_PAGING_INT:
        raise validation(f"{name} must be an integer from 1 to {MAX_PAGING_INT}", field=name)
    return int(raw)


def create(ctx: Ctx) -> Response:
    s = ctx.structure()
    body = ctx.body_object()
    extra = sorted(set(body) - {"name", "type"})
    if extra:
        raise validation(f"Unknown property {extra[0]}", field=extra[0])
    if body.get("type", "static") != "static":
        raise validation("type must be static", field="type")
    row = ctx.store.create_list(s.id, _name(body.get("name")), ctx.now)
    return Response.json(201, list_doc(row))


def page(ctx: Ctx) -> Response:
    s = ctx.structure()
    number, size = _int_query(ctx, "page", 1), _int_query(ctx, "size", DEFAULT_SIZE)
    sort = ctx.request.query_one("sort") or "createdAt:asc"
    column, _, direction = sort.partition(":")
    if column not in _SORTS or direction not in ("asc", "desc"):
        raise validation("sort must be name, createdAt or updatedAt followed by :asc or :desc", field="sort")
    criteria = ctx.request.query_one("criteria")
    if criteria is not None and len(criteria) > MAX_CRITERIA:
        raise validation(f"criteria must be at most {MAX_CRITERIA} characters", field="criteria")
    total, rows = ctx.store.page_lists(
        s.id, page=number, size=size, sort=_SORTS[column], descending=direction == "desc", criteria=criteria
    )
    return Response.json(200, {"total": total, "records": [list_doc(r) for r in rows]})


def all_lists(ctx: Ctx) -> Response:
    s = ctx.structure()
    return Response.json(
        200, [{"_id": r.id, "name": r.name, "type": r.type} for r in ctx.store.all_lists(s.id)]
    )


def get_one(ctx: Ctx) -> Response:
    s = ctx.structure()
    return Response.json(200, list_doc(_list(ctx, s, ctx.params["listId"])))


def update(ctx: Ctx) -> Response:
    s = ctx.structure()
    row = _list(ctx, s, ctx.params["listId"])
    body = ctx.body_object()
    extra = sorted(set(body) - {"name", "__v"} - _READ_ONLY)
    if extra:
        raise validation(f"Unknown property {extra[0]}", field=extra[0])
    check_version(body, row.v, "List", ctx.knobs.strict_version)
    if "name" in body:
        row.name = _name(body["name"])
    row.v += 1
    row.updated_at = iso(ctx.now)
    ctx.store.update_list(row)
    return Response.json(200, list_doc(row))


def delete_one(ctx: Ctx) -> Response:
    s = ctx.structure()
    row = _list(ctx, s, ctx.params["listId"])
    ctx.store.delete_lists([row.id])
    return Response(204)


def _list_ids(ctx: Ctx, s: StructureRow, body: dict[str, Any]) -> list[str]:
    raw = body.get("listIds", body.get("ids"))
    if not isinstance(raw, list) or not raw:
        raise validation("listIds must be a non-empty array of list ids", field="listIds")
    ids: list[str] = []
    for item in raw:
        lid = item.get("_id") if isinstance(item, dict) else item
        row = _list(ctx, s, lid)
        if row.id not in ids:
            ids.append(row.id)
    return ids


def delete_many(ctx: Ctx) -> Response:
    s = ctx.structure()
    ctx.store.delete_lists(_list_ids(ctx, s, ctx.body_object()))
    return Response(204)


def merge(ctx: Ctx) -> Response:
    s = ctx.structure()
    body = ctx.body_object()
    sources = _list_ids(ctx, s, body)
    row = ctx.store.create_list(s.id, _name(body.get("name", "Merged list")), ctx.now)
    ctx.store.copy_members(sources, row.id)
    return Response.json(200, list_doc(ctx.store.get_list(s.id, row.id) or row))


def duplicate(ctx: Ctx) -> Response:
    s = ctx.structure()
    source = _list(ctx, s, ctx.params["listId"])
    body = ctx.body() or {}
    if not isinstance(body, dict):
        raise validation("Request body must be a JSON object")
    name = body.get("name", f"{source.name} (copy)"[:MAX_NAME])
    row = ctx.store.create_list(s.id, _name(name), ctx.now)
    ctx.store.copy_members([source.id], row.id)
    return Response.json(201, list_doc(ctx.store.get_list(s.id, row.id) or row))
