"""``POST /api/contact/export`` (docs/reference/benchmark-api.md §8.1): the account's contacts as ``text/csv``.

The provider publishes neither the body nor the columns (§13 #16), so every reading a client could meet is a
knob (docs/sandbox.md) and the body is taken permissively: ``{}`` or no body exports the first structure,
``contactStructureId`` names one, ``listId``/``listIds`` narrow it to list members; other properties are
ignored. Columns come in one of two readings:

- ``label``: ``Contact Id``, the structure's key name (``Email``), ``Status``, ``Sub Status``, one column
  per field *label*, ``Lists`` (list *names*), ``Tags`` (tag *labels*), ``Created At``, ``Updated At``;
- ``id``: ``_id``, ``key``, ``contactStatus``, ``contactSubStatus``, one column per field ``_id``,
  ``lists`` and ``tags`` (``_id``\\ s), ``createdAt``, ``updatedAt``.

Several lists or tags in one cell are joined by ``;``. Only a synchronous answer exists: the reference
declares 200 ``text/csv`` and no 202, and none of the 40 operations could poll an export job.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from etl.sandbox.apierror import ApiError, is_object_id, require_object_id, validation
from etl.sandbox.http import Response
from etl.sandbox.routing import Ctx
from etl.sandbox.store import ContactRow, StructureRow

CHUNK = 5000  # contacts read from the store at a time

# (role, header in the id reading, header in the label reading; None = the structure's key name)
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("id", "_id", "Contact Id"),
    ("key", "key", None),
    ("status", "contactStatus", "Status"),
    ("secondary", "contactSubStatus", "Sub Status"),
    ("fields", "", ""),  # one column per field of the structure, here
    ("lists", "lists", "Lists"),
    ("tags", "tags", "Tags"),
    ("createdAt", "createdAt", "Created At"),
    ("updatedAt", "updatedAt", "Updated At"),
)


def _structure(ctx: Ctx, body: dict[str, Any]) -> StructureRow:
    raw = body.get("contactStructureId")
    if raw is None:
        return ctx.store.structures()[0]
    sid = require_object_id(raw, "contactStructureId")
    s = ctx.store.structure(sid)
    if s is None:
        raise validation(f"Unknown contact structure {sid}", field="contactStructureId", field_id=sid)
    return s


def _list_filter(body: dict[str, Any]) -> set[str] | None:
    raw = body.get("listIds", body.get("listId"))
    if raw is None:
        return None
    ids = raw if isinstance(raw, list) else [raw]
    if not all(is_object_id(x) for x in ids):
        raise validation("listIds must be list ids", field="listIds")
    return set(ids)


def _header(s: StructureRow, by: str, drop: str | None) -> list[str]:
    head: list[str] = []
    for role, id_name, label in COLUMNS:
        if role == drop:
            continue
        if role == "fields":
            head += [str(f["_id"] if by == "id" else f["label"]) for f in s.fields]
        else:
            head.append(id_name if by == "id" else label or s.key_name)
    return head


def _row(c: ContactRow, s: StructureRow, by: str, drop: str | None, list_names: dict[str, str]) -> list[str]:
    values = dict(c.fields)
    tag_labels = {t["_id"]: t["label"] for t in s.tags}
    cells = {
        "id": c.id,
        "key": c.key,
        "status": c.status,
        "secondary": c.secondary or "",
        "lists": ";".join(lid if by == "id" else list_names.get(lid, lid) for lid in c.lists),
        "tags": ";".join(t if by == "id" else tag_labels.get(t, t) for t in c.tags if t in s.tag_ids),
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
    }
    row: list[str] = []
    for role, _, _ in COLUMNS:
        if role == drop:
            continue
        if role == "fields":
            row += [values.get(f["_id"], "") for f in s.fields]
        else:
            row.append(cells[role])
    return row


def export(ctx: Ctx) -> Response:
    k = ctx.knobs
    if k.export_columns == "absent":
        raise ApiError(404, "RecordNotFound", "No route POST /api/contact/export")
    body = ctx.body() if ctx.request.body else {}
    if not isinstance(body, dict):
        body = {}  # permissive: the body is undocumented
    s = _structure(ctx, body)
    members = _list_filter(body)
    if k.export_answer == "garbage":
        return Response(200, b"\x00\xff<html>export queued</html>\n\x00", {"Content-Type": "text/csv"})
    list_names = {x.id: x.name for x in ctx.store.all_lists(s.id)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(s, k.export_columns, k.export_drop))
    ids = ctx.store.structure_contact_ids(s.id)
    if k.export_answer == "short" and ids:
        ids = ids[: max(0, len(ids) - max(1, len(ids) // 100))]  # a truncated answer: the last rows lost
    for i in range(0, len(ids), CHUNK):
        for c in ctx.store.contacts_by_ids(ids[i : i + CHUNK]):
            if members is None or members & set(c.lists):
                writer.writerow(_row(c, s, k.export_columns, k.export_drop, list_names))
    return Response(200, out.getvalue().encode("utf-8"), {"Content-Type": "text/csv; charset=utf-8"})
