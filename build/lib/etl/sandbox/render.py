"""Store rows → the JSON documents Benchmark returns.

Values of fields or tags that were since removed from the structure are stored on the contact but never
shown: a structure PUT that drops a field must not have to rewrite a million contacts to stay consistent.
"""

from __future__ import annotations

from typing import Any

from etl.sandbox.store import ContactRow, ListRow, StructureRow


def status_doc(c: ContactRow) -> dict[str, str]:
    doc = {"primary": c.status}
    if c.secondary is not None:
        doc["secondary"] = c.secondary
    return doc


def contact_doc(c: ContactRow, s: StructureRow | None) -> dict[str, Any]:
    field_ids = s.field_ids if s else frozenset()
    tag_ids = s.tag_ids if s else frozenset()
    return {
        "_id": c.id,
        "key": c.key,
        "contactStructureId": c.structure_id,
        "fields": [{"_id": fid, "value": value} for fid, value in c.fields if fid in field_ids],
        "lists": [{"_id": lid} for lid in c.lists],
        "tags": [{"_id": tid} for tid in c.tags if tid in tag_ids],
        "status": status_doc(c),
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
        "__v": c.v,
    }


def list_doc(row: ListRow, *, totals: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": row.id, "name": row.name, "type": row.type}
    if totals:
        doc["totalContacts"] = row.total_contacts
        doc["totalCampaigns"] = 0
    doc.update({"createdAt": row.created_at, "updatedAt": row.updated_at, "__v": row.v})
    return doc


def structure_doc(s: StructureRow) -> dict[str, Any]:
    return {
        "_id": s.id,
        "label": s.label,
        "keyName": s.key_name,
        "keyType": s.key_type,
        "fields": s.fields,
        "tags": s.tags,
        "__v": s.v,
    }
