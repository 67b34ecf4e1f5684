"""``/api/contact``: create, read, full replacement, status change, delete (docs/reference/benchmark-api.md §6).

Policy decided here: statuses are case-sensitive (``Active``, ``Inactive`` + ``Unsubscribe``); Inactive is
terminal through the API; unknown body properties are rejected so a client that sends ``listIds`` or
``email`` finds out against the sandbox rather than in production; ``__v`` bumps on every write.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from etl.model import BME_ACTIVE, BME_INACTIVE, BME_UNSUBSCRIBE
from etl.sandbox.apierror import concurrency, duplicate, not_found, require_object_id, validation
from etl.sandbox.http import Response
from etl.sandbox.render import contact_doc
from etl.sandbox.routing import Ctx
from etl.sandbox.store import ContactRow, StructureRow, iso

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CREATE_KEYS = {"key", "contactStructureId", "fields", "lists", "tags", "status"}
_PUT_KEYS = _CREATE_KEYS | {"__v", "_id", "createdAt", "updatedAt"}


def parse_key(raw: Any) -> str:
    if raw is None:
        raise validation("key is required", field="key")
    if not isinstance(raw, str) or len(raw) > 254 or not _EMAIL.fullmatch(raw):
        raise validation("key must be a valid email address", field="key")
    return raw


def parse_status(raw: Any, *, current_secondary: str | None = None) -> tuple[str, str | None]:
    """Exact-case ``{"primary": "Active"}`` or ``{"primary": "Inactive", "secondary": "Unsubscribe"}``.

    A PUT may echo a system-set secondary it read (``Bounce``); a client can only *set* ``Unsubscribe``.
    """
    if not isinstance(raw, dict):
        raise validation(
            "status must be an object with primary (and secondary when Inactive)", field="status"
        )
    extra = sorted(set(raw) - {"primary", "secondary"})
    if extra:
        raise validation(f"status has unknown property {extra[0]}", field=f"status.{extra[0]}")
    primary, secondary = raw.get("primary"), raw.get("secondary")
    if primary not in (BME_ACTIVE, BME_INACTIVE):
        raise validation("status.primary must be Active or Inactive (case-sensitive)", field="status.primary")
    if primary == BME_ACTIVE:
        if secondary is not None:
            raise validation("status.secondary is only allowed with Inactive", field="status.secondary")
        return BME_ACTIVE, None
    if secondary is None:
        raise validation(
            "status.secondary is required when status.primary is Inactive", field="status.secondary"
        )
    if secondary != BME_UNSUBSCRIBE and secondary != current_secondary:
        raise validation("status.secondary must be Unsubscribe (case-sensitive)", field="status.secondary")
    return BME_INACTIVE, secondary


def parse_fields(raw: Any, structure: StructureRow) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation("fields must be an array of {_id, value}", field="fields")
    out: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("_id"), str):
            raise validation("each field must be an object with _id and value", field="fields")
        fid, value = item["_id"], item.get("value")
        if fid not in structure.field_ids:
            raise validation(
                f"Unknown field {fid} in contact structure {structure.id}", field="fields", field_id=fid
            )
        if fid in out:
            raise validation(f"field {fid} appears twice", field="fields", field_id=fid)
        if isinstance(value, bool):
            out[fid] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[fid] = str(value)
        elif value is not None:
            raise validation(f"value of field {fid} must be a string", field="fields", field_id=fid)
    return list(out.items())


def parse_refs(raw: Any, name: str, known: set[str] | frozenset[str], kind: str) -> list[str]:
    """``[{"_id": …}]`` references to lists or tags of the structure, de-duplicated in order."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation(f"{name} must be an array of {{_id}}", field=name)
    out: list[str] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("_id"), str):
            raise validation(f"each item of {name} must be an object with _id", field=name)
        ref = item["_id"]
        if ref not in known:
            raise validation(f"Unknown {kind} {ref}", field=name, field_id=ref)
        if ref not in out:
            out.append(ref)
    return out


def _structure_for(ctx: Ctx, raw: Any) -> StructureRow:
    if raw is None:
        raise validation("contactStructureId is required", field="contactStructureId")
    sid = require_object_id(raw, "contactStructureId")
    s = ctx.store.structure(sid)
    if s is None:
        raise validation(f"Unknown contact structure {sid}", field="contactStructureId", field_id=sid)
    return s


def _reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise validation(f"Unknown property {extra[0]}", field=extra[0])


def _is_duplicate(ctx: Ctx, s: StructureRow, key: str, exclude: str | None = None) -> bool:
    return ctx.store.find_key(
        s.id, key, insensitive=ctx.knobs.unique_match == "insensitive", exclude_id=exclude
    )


def _list_ids(ctx: Ctx, s: StructureRow) -> set[str]:
    return {row.id for row in ctx.store.all_lists(s.id)}


def create(ctx: Ctx) -> Response:
    body = ctx.body_object()
    _reject_unknown(body, _CREATE_KEYS)
    s = _structure_for(ctx, body.get("contactStructureId"))
    key = parse_key(body.get("key"))
    status, secondary = BME_ACTIVE, None
    if "status" in body and ctx.knobs.status_on_create == "reject":
        raise validation("status cannot be set when creating a contact", field="status")
    if "status" in body and ctx.knobs.status_on_create == "accept":
        status, secondary = parse_status(body["status"])
    fields = parse_fields(body.get("fields"), s)
    lists = parse_refs(body.get("lists"), "lists", _list_ids(ctx, s), "list")
    tags = (
        parse_refs(body.get("tags"), "tags", s.tag_ids, "tag") if ctx.knobs.tags_on_create == "accept" else []
    )
    if _is_duplicate(ctx, s, key):
        raise duplicate(key)
    stamp = iso(ctx.now)
    row = ContactRow(
        ctx.store.ids.new(ctx.now), s.id, key, fields, lists, tags, status, secondary, 0, stamp, stamp
    )
    ctx.store.insert_contact(row)
    return Response.json(200, contact_doc(row, s))


def get_one(ctx: Ctx) -> Response:
    row = ctx.contact()
    return Response.json(200, contact_doc(row, ctx.store.structure(row.structure_id)))


def get_all(ctx: Ctx) -> Response:
    structures = {s.id: s for s in ctx.store.structures()}
    rows = ctx.store.contacts_by_ids(ctx.store.all_contact_ids())
    return Response.json(200, [contact_doc(r, structures.get(r.structure_id)) for r in rows])


def check_version(body: dict[str, Any], current: int, kind: str, strict: bool) -> None:
    """Optimistic concurrency: a stale ``__v`` is a ConcurrencyError; a missing one only in strict mode."""
    if "__v" not in body:
        if strict:
            raise validation(f"__v is required to update a {kind.lower()} (GET it first)", field="__v")
        return
    given = body["__v"]
    if not isinstance(given, int) or isinstance(given, bool):
        raise validation("__v must be an integer", field="__v")
    if given != current:
        raise concurrency(kind, given, current)


def _no_reactivation(old: ContactRow, new_status: str) -> None:
    if old.status == BME_INACTIVE and new_status == BME_ACTIVE:
        raise validation("An Inactive contact cannot be reactivated through the API", field="status.primary")


def replace(ctx: Ctx) -> Response:
    old = ctx.contact()
    body = ctx.body_object()
    _reject_unknown(body, _PUT_KEYS)
    if "_id" in body and body["_id"] != old.id:
        raise validation("_id cannot be changed", field="_id")
    if "contactStructureId" in body and body["contactStructureId"] != old.structure_id:
        raise validation("contactStructureId cannot be changed", field="contactStructureId")
    check_version(body, old.v, "Contact", ctx.knobs.strict_version)
    s = ctx.store.structure(old.structure_id)
    if s is None:  # a contact never outlives its structure; guard anyway
        raise not_found("Contact structure", old.structure_id)
    key = parse_key(body.get("key"))
    status, secondary = old.status, old.secondary
    if "status" in body:
        status, secondary = parse_status(body["status"], current_secondary=old.secondary)
        _no_reactivation(old, status)
    fields = parse_fields(body.get("fields"), s)
    lists = parse_refs(body.get("lists"), "lists", _list_ids(ctx, s), "list")
    tags = parse_refs(body.get("tags"), "tags", s.tag_ids, "tag")
    if key != old.key and _is_duplicate(ctx, s, key, exclude=old.id):
        raise duplicate(key)
    new = dataclasses.replace(
        old,
        key=key,
        fields=fields,
        lists=lists,
        tags=tags,
        status=status,
        secondary=secondary,
        v=old.v + 1,
        updated_at=iso(ctx.now),
    )
    ctx.store.replace_contact(old, new)
    return Response.json(200, contact_doc(new, s))


def change_status(ctx: Ctx) -> Response:
    old = ctx.contact()
    body = ctx.body_object()
    _reject_unknown(body, {"status"})
    if "status" not in body:
        raise validation("status is required", field="status")
    status, secondary = parse_status(body["status"], current_secondary=old.secondary)
    _no_reactivation(old, status)
    new = dataclasses.replace(old, status=status, secondary=secondary, v=old.v + 1, updated_at=iso(ctx.now))
    ctx.store.replace_contact(old, new)
    return Response.json(200, contact_doc(new, ctx.store.structure(old.structure_id)))


def delete(ctx: Ctx) -> Response:
    row = ctx.contact()
    doc = contact_doc(row, ctx.store.structure(row.structure_id))
    ctx.store.delete_contact(row)
    return Response.json(200, doc)
