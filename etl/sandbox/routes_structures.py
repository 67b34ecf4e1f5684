"""``/api/contact-structure`` (docs/reference/benchmark-api.md §9.1): read, and full replacement by PUT; creation is refused.

A PUT carries the complete ``fields`` array: existing fields keep their ``_id``, new ones come without and
get one, omitted ones are deleted. That is how a migration adds its custom fields, so the rules are strict:
unknown ``_id``s, bad ``dataType``s and duplicate labels are 400s.
"""

from __future__ import annotations

from typing import Any

from etl.sandbox.apierror import forbidden, validation
from etl.sandbox.http import Response
from etl.sandbox.render import structure_doc
from etl.sandbox.routes_contacts import check_version
from etl.sandbox.routing import Ctx
from etl.sandbox.store import StructureRow

DATA_TYPES = ("text", "number", "date", "boolean", "recurrent_date")
_PUT_KEYS = {"label", "keyName", "keyType", "fields", "tags", "__v", "_id"}


def get_all(ctx: Ctx) -> Response:
    return Response.json(200, [structure_doc(s) for s in ctx.store.structures()])


def get_one(ctx: Ctx) -> Response:
    return Response.json(200, structure_doc(ctx.structure()))


def create(ctx: Ctx) -> Response:
    raise forbidden("Contact structures cannot be created with an API key")


def _label(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise validation(f"{where} is required", field=where)
    return raw


def _items(raw: Any, name: str, existing: frozenset[str], ctx: Ctx, build: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise validation(f"{name} must be an array", field=name)
    out: list[dict[str, Any]] = []
    labels: set[str] = set()
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise validation(f"each item of {name} must be an object", field=name)
        ident = item.get("_id")
        if ident is not None and not isinstance(ident, str):
            raise validation(f"{name[:-1]} _id must be a string", field=name)
        if ident is None:
            ident = ctx.store.ids.new(ctx.now)
        elif ident not in existing or ident in seen:
            raise validation(f"Unknown or repeated {name[:-1]} _id {ident}", field=name, field_id=str(ident))
        seen.add(ident)
        doc = build(item, ident)
        if doc["label"].lower() in labels:
            raise validation(f"duplicate {name[:-1]} label {doc['label']!r}", field=name, field_id=ident)
        labels.add(doc["label"].lower())
        out.append(doc)
    return out


def _field(item: dict[str, Any], ident: str) -> dict[str, Any]:
    label = _label(item.get("label"), "fields.label")
    data_type = item.get("dataType", "text")
    if data_type not in DATA_TYPES:
        raise validation(
            f"dataType must be one of {', '.join(DATA_TYPES)}", field="fields.dataType", field_id=ident
        )
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise validation("required must be true or false", field="fields.required", field_id=ident)
    doc: dict[str, Any] = {"_id": ident, "label": label, "dataType": data_type, "required": required}
    predefined = item.get("predefinedField")
    if predefined is not None:
        if not isinstance(predefined, str):
            raise validation(
                "predefinedField must be a string", field="fields.predefinedField", field_id=ident
            )
        doc["predefinedField"] = predefined
    return doc


def _tag(item: dict[str, Any], ident: str) -> dict[str, Any]:
    return {"_id": ident, "label": _label(item.get("label"), "tags.label")}


def replace(ctx: Ctx) -> Response:
    old = ctx.structure()
    body = ctx.body_object()
    extra = sorted(set(body) - _PUT_KEYS)
    if extra:
        raise validation(f"Unknown property {extra[0]}", field=extra[0])
    if body.get("_id", old.id) != old.id:
        raise validation("_id cannot be changed", field="_id")
    if body.get("keyType", old.key_type) != old.key_type:
        raise validation("keyType cannot be changed", field="keyType")
    label = _label(body.get("label"), "label")
    key_name = _label(body.get("keyName"), "keyName")
    check_version(body, old.v, "Contact structure", ctx.knobs.strict_version)
    if "fields" not in body:
        raise validation("fields is required (the complete array)", field="fields")
    fields = _items(body["fields"], "fields", old.field_ids, ctx, _field)
    tags = _items(body["tags"], "tags", old.tag_ids, ctx, _tag) if "tags" in body else old.tags
    new = StructureRow(old.id, label, key_name, old.key_type, fields, tags, old.v + 1, old.created_at)
    ctx.store.replace_structure(new, old.field_ids - new.field_ids)
    return Response.json(200, structure_doc(new))
