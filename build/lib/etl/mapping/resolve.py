"""Names → ids against the account: contact-structure fields, structure tags and lists.

Contract (what load and the CLI rely on):

* Reads cost one ``GET /api/contact-structure`` (or ``…/{id}`` when a structure is named) and, only when
  some list is needed, one ``GET …/lists/all``. Creating costs one structure ``PUT`` for *all* new fields and
  tags together, plus one ``POST …/lists`` per new list. A typical resolution is 2-3 requests; the count is
  returned in ``Resolution.requests``.
* Nothing is written unless every missing name is covered by its flag: otherwise ``MappingError`` lists
  every missing field, list and tag, grouped, with the flag that would create them — before any contact
  or structure write.
* The structure ``PUT`` carries the ``__v`` just read and the complete field and tag arrays (existing
  entries unchanged, new ones without ``_id``), because the API deletes whatever a PUT omits. On a stale
  ``__v`` (400 ``ConcurrencyError``) the structure is read again, re-planned and the PUT retried (up to
  ``PUT_ROUNDS`` times), so a field another client added meanwhile is kept, and a PUT of ours that was
  applied but whose answer was lost (its retry then meets its own new ``__v``) ends as "nothing left to add".
* Given a ``BenchmarkClient`` every request is paced, counted and retried (``etl.benchmark.structure``); a list
  ``POST`` whose answer was lost is re-sent only after ``…/lists/all`` shows no list of that name.
* Type policy: an existing field's ``dataType`` is never changed. When it differs from the column's type
  the column is *coerced* to the account's type by transform (values that cannot be coerced reject their
  row, naming the column); new fields are created with the column's type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from etl.benchmark.client import BenchmarkClient
from etl.benchmark.structure import StructureApi, records
from etl.errors import FatalLoadError, MappingError
from etl.model import FieldColumn, ResolvedMapping
from etl.presets.preset import norm_header

STRUCTURES = "/api/contact-structure"
PUT_ROUNDS = 3  # structure PUTs per resolution: the first, then re-plans after a stale __v


@dataclass(frozen=True)
class ResolveOptions:
    structure_id: str | None = None  # None → the account's default (first) structure
    create_fields: bool = False
    create_lists: bool = False
    create_tags: bool = False
    extra_lists: tuple[str, ...] = ()  # --list NAME: every contact joins these too


@dataclass(frozen=True)
class FieldTarget:
    """Where one canonical field column goes."""

    column: FieldColumn
    field_id: str
    field_label: str
    data_type: str  # the account field's dataType (authoritative)
    matched_by: str  # "predefinedField" | "label" | "created"

    @property
    def coerced(self) -> bool:
        return self.column.data_type != self.data_type


@dataclass(frozen=True)
class NamedTarget:
    name: str  # as it appears in the data
    target_id: str
    target_name: str  # as it is spelled in the account
    created: bool = False


@dataclass(frozen=True)
class Resolution:
    mapping: ResolvedMapping
    fields: tuple[FieldTarget, ...]
    lists: tuple[NamedTarget, ...]
    tags: tuple[NamedTarget, ...]
    unfilled: tuple[dict[str, Any], ...]  # structure fields no column fills: {_id, label, dataType}
    requests: int
    structure_label: str = ""
    warnings: tuple[str, ...] = ()


def _fold(s: str) -> str:
    return " ".join(s.split()).casefold()


def _lookup(names: Iterable[str], existing: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Exact name first, then case- and space-insensitive; names absent from the account are left out."""
    exact = {str(e.get(key)): e for e in existing}
    folded: dict[str, dict[str, Any]] = {}
    for e in existing:
        folded.setdefault(_fold(str(e.get(key, ""))), e)
    out = {}
    for n in names:
        hit = exact.get(n) or folded.get(_fold(n))
        if hit is not None:
            out[n] = hit
    return out


def _match_field(col: FieldColumn, fields: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    if col.predefined:
        for f in fields:
            if f.get("predefinedField") == col.predefined:
                return f, "predefinedField"
    want = norm_header(col.label)
    same = [f for f in fields if norm_header(str(f.get("label", ""))) == want]
    exact = [f for f in same if f.get("label") == col.label]
    hit = (exact or same)[0] if (exact or same) else None
    return hit, "label"


def _get_structure(api: StructureApi, structure_id: str | None) -> dict[str, Any]:
    if structure_id:
        try:
            doc = api.call("GET", f"{STRUCTURES}/{structure_id}")
        except FatalLoadError as exc:
            if exc.status == 404:
                raise MappingError(
                    f"contact structure {structure_id} does not exist in this account"
                ) from None
            raise
        return doc
    structures = records(api.call("GET", STRUCTURES))
    if not structures:
        raise MappingError("the account has no contact structure (GET /api/contact-structure returned none)")
    return structures[0]


def _missing_message(
    fields: Sequence[str], lists: Sequence[str], tags: Sequence[str], opts: ResolveOptions
) -> str | None:
    parts = []
    for what, names, flag, on in (
        ("fields", fields, "--create-fields", opts.create_fields),
        ("lists", lists, "--create-lists", opts.create_lists),
        ("tags", tags, "--create-tags", opts.create_tags),
    ):
        if names and not on:
            shown = ", ".join(repr(n) for n in names[:50]) + (
                f", … ({len(names)} in all)" if len(names) > 50 else ""
            )
            parts.append(f"{what} not in the account: {shown} (add {flag} to create them)")
    return "; ".join(parts) if parts else None


def _put_structure(
    api: StructureApi, structure: dict[str, Any], new_fields: Sequence[FieldColumn], new_tags: Sequence[str]
) -> dict[str, Any]:
    drop = {"createdAt", "updatedAt"}
    body: dict[str, Any] = {"label": structure.get("label"), "keyName": structure.get("keyName")}
    body["fields"] = [{k: v for k, v in f.items() if k not in drop} for f in structure.get("fields", [])]
    body["fields"] += [{"label": c.label, "dataType": c.data_type, "required": False} for c in new_fields]
    body["tags"] = [{k: v for k, v in t.items() if k not in drop} for t in structure.get("tags", [])]
    body["tags"] += [{"label": t} for t in new_tags]
    if "__v" in structure:
        body["__v"] = structure["__v"]
    doc = api.call("PUT", f"{STRUCTURES}/{structure['_id']}", body)
    if not isinstance(doc, dict) or "fields" not in doc:  # a reply without the document: read it back
        doc = _get_structure(api, str(structure["_id"]))
    return doc


def resolve_mapping(
    client: httpx.Client | BenchmarkClient,
    field_columns: Sequence[FieldColumn],
    *,
    list_names: Iterable[str] = (),
    tag_labels: Iterable[str] = (),
    options: ResolveOptions | None = None,
) -> Resolution:
    """Resolve every field column, list name and tag label to an id, creating what the flags allow.

    ``client`` is a ``BenchmarkClient`` (retrying, paced, counted) or an ``httpx.Client`` with ``base_url``
    and the ``X-API-Key`` header set by the caller (each call sent once). ``list_names`` and
    ``tag_labels`` are the distinct names the canonical frame uses (``distinct_names`` gives them).
    """
    opts = options or ResolveOptions()
    api = StructureApi(client)
    lists_wanted = list(dict.fromkeys([*[n for n in list_names if n], *opts.extra_lists]))
    tags_wanted = list(dict.fromkeys(t for t in tag_labels if t))
    structure = _get_structure(api, opts.structure_id)
    existing_lists: list[dict[str, Any]] = []
    if lists_wanted:
        existing_lists = records(api.call("GET", f"{STRUCTURES}/{structure['_id']}/lists/all"))
    list_hits = _lookup(lists_wanted, existing_lists, "name")
    missing_lists = [n for n in lists_wanted if n not in list_hits]

    def plan(doc: dict[str, Any]) -> tuple[list[FieldColumn], list[str]]:
        fields = doc.get("fields", [])
        miss_f = [c for c in field_columns if _match_field(c, fields)[0] is None]
        tag_hits = _lookup(tags_wanted, doc.get("tags", []), "label")
        return miss_f, [t for t in tags_wanted if t not in tag_hits]

    missing_fields, missing_tags = plan(structure)
    _check_collisions(field_columns, structure.get("fields", []))
    problem = _missing_message(
        [c.label for c in missing_fields], _one_per_fold(missing_lists), _one_per_fold(missing_tags), opts
    )
    if problem:
        raise MappingError(problem + "; nothing was written")
    created_fields = {c.label for c in missing_fields}
    created_tags = {_fold(t) for t in missing_tags}
    if missing_fields or missing_tags:
        structure = _create_in_structure(api, structure, missing_fields, missing_tags, plan)
    created: dict[str, dict[str, Any]] = {}  # folded name → the list POST created
    for name in _one_per_fold(missing_lists):
        created[_fold(name)] = _create_list(api, str(structure["_id"]), name)
    created_lists = {n: created[_fold(n)] for n in missing_lists}
    return _assemble(
        structure,
        field_columns,
        lists_wanted,
        list_hits,
        created_lists,
        tags_wanted,
        created_fields,
        {t for t in tags_wanted if _fold(t) in created_tags},
        opts,
        api.requests,
    )


def _create_list(api: StructureApi, structure_id: str, name: str) -> dict[str, Any]:
    """POST one list; a repeat after a lost answer first looks the name up, so a list is never made twice."""
    path = f"{STRUCTURES}/{structure_id}/lists"

    def find() -> dict[str, Any] | None:
        return _lookup([name], records(api.call("GET", f"{path}/all")), "name").get(name)

    doc = api.call("POST", path, {"name": name}, recheck=find)
    if not isinstance(doc, dict) or not doc.get("_id"):
        doc = find()
        if doc is None:
            raise MappingError(f"list {name!r} is still missing from contact structure {structure_id}")
    return doc


def _one_per_fold(names: Sequence[str]) -> list[str]:
    """``VIP`` and ``vip`` are one tag (one list) for the account: create the first spelling only."""
    first: dict[str, str] = {}
    for n in names:
        first.setdefault(_fold(n), n)
    return list(first.values())


def _check_collisions(columns: Sequence[FieldColumn], fields: Sequence[dict[str, Any]]) -> None:
    """Two columns landing in one field (existing, or to be created) would send one ``_id`` twice."""
    owner: dict[str, FieldColumn] = {}
    for c in columns:
        hit, _ = _match_field(c, fields)
        slot = f"id:{hit.get('_id')}" if hit is not None else f"new:{norm_header(c.label)}"
        if slot in owner:
            label = hit.get("label") if hit is not None else owner[slot].label
            raise MappingError(
                f"columns {owner[slot].source!r} and {c.source!r} both map to field {label!r}; map one of "
                "them elsewhere or ignore it in a mapping file; nothing was written"
            )
        owner[slot] = c


def _create_in_structure(
    api: StructureApi,
    structure: dict[str, Any],
    new_fields: list[FieldColumn],
    new_tags: list[str],
    plan: Callable[[dict[str, Any]], tuple[list[FieldColumn], list[str]]],
) -> dict[str, Any]:
    """One PUT with everything new; on a stale ``__v`` re-read, re-plan and retry (``PUT_ROUNDS`` in all)."""
    for _ in range(PUT_ROUNDS):
        try:
            return _put_structure(api, structure, new_fields, _one_per_fold(new_tags))
        except FatalLoadError as exc:
            if exc.error_type != "ConcurrencyError":
                raise
        structure = _get_structure(api, str(structure["_id"]))
        new_fields, new_tags = plan(structure)
        if not new_fields and not new_tags:  # someone (maybe our own lost PUT) added them all
            return structure
    raise MappingError(
        "the contact structure kept changing while fields/tags were being added "
        f"(ConcurrencyError {PUT_ROUNDS} times); run the command again"
    )


def _assemble(
    structure: dict[str, Any],
    field_columns: Sequence[FieldColumn],
    lists_wanted: list[str],
    list_hits: dict[str, dict[str, Any]],
    created_lists: dict[str, dict[str, Any]],
    tags_wanted: list[str],
    created_fields: set[str],
    created_tags: set[str],
    opts: ResolveOptions,
    requests: int,
) -> Resolution:
    fields = structure.get("fields", [])
    targets = []
    for c in field_columns:
        f, how = _match_field(c, fields)
        if f is None or not f.get("_id"):
            raise MappingError(
                f"field {c.label!r} is still missing from contact structure "
                f"{structure.get('_id')} after creating it"
            )
        how = "created" if c.label in created_fields else how
        targets.append(
            FieldTarget(c, str(f["_id"]), str(f.get("label", "")), str(f.get("dataType", "text")), how)
        )
    tag_hits = _lookup(tags_wanted, structure.get("tags", []), "label")
    tags = []
    for label in tags_wanted:
        hit = tag_hits.get(label)
        if hit is None or not hit.get("_id"):
            raise MappingError(
                f"tag {label!r} is still missing from contact structure {structure.get('_id')}"
            )
        tags.append(NamedTarget(label, str(hit["_id"]), str(hit.get("label", label)), label in created_tags))
    lists = []
    for n in lists_wanted:
        doc = list_hits.get(n) or created_lists[n]
        lists.append(NamedTarget(n, str(doc["_id"]), str(doc.get("name", n)), n in created_lists))
    seen: dict[str, FieldTarget] = {}
    for ft in targets:
        if ft.field_id in seen:
            raise MappingError(
                f"columns {seen[ft.field_id].column.source!r} and {ft.column.source!r} both map to field "
                f"{ft.field_label!r}; map one of them elsewhere or ignore it in a mapping file"
            )
        seen[ft.field_id] = ft
    used = set(seen)
    unfilled = tuple(
        {"_id": f.get("_id"), "label": f.get("label"), "dataType": f.get("dataType", "text")}
        for f in fields
        if f.get("_id") not in used
    )
    warnings = tuple(
        f"column {t.column.source!r} is {t.column.data_type} but field {t.field_label!r} is "
        f"{t.data_type}: values are converted, rows that cannot be are rejected"
        for t in targets
        if t.coerced
    )
    mapping = ResolvedMapping(
        structure_id=str(structure["_id"]),
        field_ids=tuple(sorted((t.column.label, t.field_id) for t in targets)),
        list_ids=tuple(sorted((x.name, x.target_id) for x in lists)),
        tag_ids=tuple(sorted((x.name, x.target_id) for x in tags)),
        field_types=tuple(sorted({(t.field_id, t.data_type) for t in targets})),
        extra_lists=tuple(dict.fromkeys(opts.extra_lists)),
    )
    return Resolution(
        mapping,
        tuple(targets),
        tuple(lists),
        tuple(tags),
        unfilled,
        requests,
        str(structure.get("label", "")),
        warnings,
    )


def resolved_to_json(resolved: ResolvedMapping) -> str:
    """Stable JSON (sorted keys) to save with a run; ``resolved_from_json`` reads it back identically."""
    doc = {
        "version": 1,
        "structure_id": resolved.structure_id,
        "field_ids": [list(p) for p in resolved.field_ids],
        "list_ids": [list(p) for p in resolved.list_ids],
        "tag_ids": [list(p) for p in resolved.tag_ids],
        "field_types": [list(p) for p in resolved.field_types],
        "extra_lists": list(resolved.extra_lists),
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def resolved_from_json(text: str) -> ResolvedMapping:
    try:
        doc = json.loads(text)
        pairs = {
            k: tuple((str(a), str(b)) for a, b in doc.get(k, []))
            for k in ("field_ids", "list_ids", "tag_ids", "field_types")
        }
        return ResolvedMapping(
            structure_id=str(doc["structure_id"]),
            field_ids=pairs["field_ids"],
            list_ids=pairs["list_ids"],
            tag_ids=pairs["tag_ids"],
            field_types=pairs["field_types"],
            extra_lists=tuple(str(x) for x in doc.get("extra_lists", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise MappingError(f"saved mapping is not readable: {type(exc).__name__}: {exc}") from None
