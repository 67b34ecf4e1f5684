"""Where every source column goes, and which account fields stay empty: the mapping part of the report.

``build_plan`` works offline (no resolution: targets by label only) or with a ``Resolution`` (ids, created
targets, type coercions). ``mapping_report(plan)`` is the JSON-ready section validate's report embeds
under ``"mapping"``; its shape is documented in mappings/README.md and is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from etl.benchmark.client import BenchmarkClient
from etl.mapping.resolve import Resolution
from etl.model import FieldColumn
from etl.presets.preset import FlagRule, Preset, find_column, norm_header

KINDS = ("email", "field", "status", "status_flag", "consent", "tags", "lists", "event_time", "ignored")
CREATED_NOTE = "field created"
WOULD_CREATE_NOTE = "field would be created"


@dataclass(frozen=True)
class ColumnRoute:
    source: str
    kind: str  # one of KINDS
    target: str | None = None  # field label, "status", tags/lists format, …
    target_id: str | None = None  # field _id once resolved
    data_type: str | None = None  # the target field's dataType (the account's, once resolved)
    note: str = ""
    created: bool = False  # the field was created by this resolution (not in the report: its note says so)


@dataclass(frozen=True)
class MappingPlan:
    preset: str
    columns: tuple[ColumnRoute, ...]
    structure_id: str | None = None
    structure_label: str = ""
    unfilled: tuple[dict[str, Any], ...] = ()
    lists: tuple[dict[str, Any], ...] = ()
    tags: tuple[dict[str, Any], ...] = ()
    extra_lists: tuple[str, ...] = ()
    requests: int = 0
    warnings: tuple[str, ...] = ()


def _flag_note(values: Sequence[str], match: str, absent: bool, status: str) -> str:
    test = (
        "non-empty"
        if not values
        else (f"{'contains' if match == 'contains' else 'is'} " + " / ".join(repr(v) for v in values))
    )
    return f"{'unless' if absent else 'when'} {test} → {status}"


def _field_route(h: str, col: FieldColumn, resolution: Resolution | None) -> ColumnRoute:
    target = next((t for t in resolution.fields if t.column == col), None) if resolution else None
    note = "proposed custom text field (no preset rule)" if col.custom else ""
    if col.predefined:
        note = f"predefined {col.predefined}"
    if target is None:
        return ColumnRoute(h, "field", col.label, None, col.data_type, note)
    bits = [note] if note else []
    created = target.matched_by == "created"
    if created:
        bits.append(CREATED_NOTE)
    if target.coerced:
        bits.append(
            f"{col.data_type} values converted to {target.data_type}; rows that cannot be are rejected"
        )
    return ColumnRoute(
        h, "field", target.field_label, target.field_id, target.data_type, "; ".join(bits), created
    )


def build_plan(
    preset: Preset,
    headers: Sequence[str],
    field_columns: Sequence[FieldColumn],
    resolution: Resolution | None = None,
    consent: Mapping[str, str] | None = None,
) -> MappingPlan:
    """Classify each header in order: email, field, status, flag, tags, lists, consent, event time,
    ignored. ``consent`` (column → its kind) names the columns validate read as consent signals."""
    consent = consent or {}
    by_source = {c.source: c for c in field_columns}
    email = find_column(headers, preset.email)
    status_col = find_column(headers, preset.status.columns) if preset.status.columns else None
    flags: dict[str, FlagRule] = {}
    for rule in preset.status.flags:
        col = find_column(headers, rule.column)
        if col is not None:
            flags.setdefault(col, rule)
    tags = find_column(headers, preset.tags.columns) if preset.tags.columns else None
    lists = find_column(headers, preset.lists.columns) if preset.lists.mode == "column" else None
    event = {find_column(headers, (a,)) for a in preset.event_time} - {None}
    ignored = {norm_header(i) for i in preset.ignore}
    aliases = {norm_header(s): r.target for r in preset.fields for s in r.sources}
    routes = []
    for h in headers:
        if h == email:
            routes.append(ColumnRoute(h, "email", "key", note="trimmed, lower-cased: the contact key"))
        elif h in by_source:
            routes.append(_field_route(h, by_source[h], resolution))
        elif h == status_col:
            words = ", ".join(f"{k} → {v.value}" for k, v in preset.status.values.items())
            routes.append(ColumnRoute(h, "status", "status", note=words))
        elif h in flags:
            r = flags[h]
            routes.append(
                ColumnRoute(
                    h, "status_flag", "status", note=_flag_note(r.values, r.match, r.absent, r.status.value)
                )
            )
        elif h == tags:
            routes.append(ColumnRoute(h, "tags", "tags", note=f"format {preset.tags.format}"))
        elif h in consent and consent[h] != "value":
            routes.append(
                ColumnRoute(
                    h, "consent", "status", note=f"{consent[h]} consent signal; not stored (docs/consent.md)"
                )
            )
        elif h == lists:
            fmt = preset.lists.format or f"separator {preset.lists.separator!r}"
            routes.append(
                ColumnRoute(
                    h,
                    "lists",
                    "lists",
                    note=fmt + (f", prefix {preset.lists.prefix!r}" if preset.lists.prefix else ""),
                )
            )
        elif h in event:
            routes.append(ColumnRoute(h, "event_time", note="dates the row (latest row wins); not stored"))
        elif norm_header(h) in ignored:
            routes.append(ColumnRoute(h, "ignored", note=f"listed in the {preset.name} preset's ignore"))
        elif norm_header(h) in aliases:
            routes.append(
                ColumnRoute(h, "ignored", note=f"another column already feeds {aliases[norm_header(h)]!r}")
            )
        else:
            routes.append(
                ColumnRoute(
                    h,
                    "ignored",
                    note="no rule for it and the preset does not propose custom fields (unmapped = ignore)",
                )
            )
    if resolution is None:
        return MappingPlan(preset.name, tuple(routes))
    return MappingPlan(
        preset.name,
        tuple(routes),
        resolution.mapping.structure_id,
        resolution.structure_label,
        resolution.unfilled,
        tuple(
            {"name": x.name, "_id": x.target_id, "account_name": x.target_name, "created": x.created}
            for x in resolution.lists
        ),
        tuple(
            {"label": x.name, "_id": x.target_id, "account_label": x.target_name, "created": x.created}
            for x in resolution.tags
        ),
        resolution.mapping.extra_lists,
        resolution.requests,
        resolution.warnings,
    )


def mapping_report(plan: MappingPlan) -> dict[str, Any]:
    """The ``mapping`` section of report.json (and of report.html): plain JSON types only."""
    return {
        "preset": plan.preset,
        "structure": {"_id": plan.structure_id, "label": plan.structure_label} if plan.structure_id else None,
        "columns": [
            {
                "source": r.source,
                "kind": r.kind,
                "target": r.target,
                "target_id": r.target_id,
                "data_type": r.data_type,
                "note": r.note,
            }
            for r in plan.columns
        ],
        "unfilled_fields": [dict(u) for u in plan.unfilled],
        "lists": [dict(x) for x in plan.lists],
        "tags": [dict(x) for x in plan.tags],
        "extra_lists": list(plan.extra_lists),
        "requests": plan.requests,
        "warnings": list(plan.warnings),
    }


def plan_validation(
    result: Any,
    client: BenchmarkClient | None = None,
    options: Any = None,
    *,
    import_unconfirmed: bool = False,
) -> tuple[MappingPlan, Any]:
    """Map a ``ValidationResult``: resolve against the account through ``client`` (the ``BenchmarkClient``)
    and plan the contacts; with ``client=None`` only the offline routes.

    Returns the plan and the ``TransformResult`` (None offline). Raises ``MappingError`` for missing
    targets (see resolve) before anything is written.
    """
    from etl.mapping.resolve import resolve_mapping
    from etl.mapping.transform import distinct_names, plan_contacts

    headers = list(result.source_columns) or [c for c in result.canonical.columns]
    if client is None:
        return build_plan(result.preset, headers, result.fields, consent=_consent_kinds(result)), None
    lists, tags = distinct_names(result.canonical)
    resolution = resolve_mapping(client, result.fields, list_names=lists, tag_labels=tags, options=options)
    planned = plan_contacts(
        result.canonical,
        result.fields,
        resolution.mapping,
        import_unconfirmed=import_unconfirmed,
        duplicates=getattr(result, "duplicates", None),
    )
    return build_plan(result.preset, headers, result.fields, resolution, _consent_kinds(result)), planned


def plan_lines(plan: MappingPlan, planned: Any = None) -> list[str]:
    """The text `mappings plan` prints: one line per source column, then what stays empty and the totals."""
    out = [f"preset: {plan.preset}"]
    if plan.structure_id:
        out.append(
            f"contact structure: {plan.structure_label} ({plan.structure_id}); "
            f"{plan.requests} API request(s) to resolve"
        )
    width = max([len(r.source) for r in plan.columns] + [6])
    for r in plan.columns:
        target = {
            "field": f"field {r.target!r}"
            + (f" ({r.target_id}, {r.data_type})" if r.target_id else f" ({r.data_type})"),
            "email": "key",
            "status": "status",
            "status_flag": "status flag",
            "consent": "status (consent signal)",
            "tags": "tags",
            "lists": "lists",
            "event_time": "event time",
            "ignored": "ignored",
        }[r.kind]
        out.append(f"  {r.source:<{width}}  → {target}" + (f"  [{r.note}]" if r.note else ""))
    for kind, items, name in (("list", plan.lists, "name"), ("tag", plan.tags, "label")):
        for x in items:
            if x.get("would_create"):
                out.append(f"{kind} {x[name]!r} → not in the account (would be created)")
            else:
                out.append(f"{kind} {x[name]!r} → {x['_id']}" + (" (created)" if x["created"] else ""))
    if plan.unfilled:
        out.append("fields left empty: " + ", ".join(str(u["label"]) for u in plan.unfilled))
    out += [f"warning: {w}" for w in plan.warnings]
    if planned is not None:
        active = sum(1 for c in planned.contacts if c.status == "Active")
        out.append(
            f"contacts: {len(planned.contacts)} to write ({active} Active, "
            f"{len(planned.contacts) - active} Inactive), {planned.skipped.height} row(s) skipped, "
            f"{planned.rejected.height} row(s) rejected by type conversion"
        )
    return out


def created_targets(plan: MappingPlan) -> dict[str, list[str]]:
    """What the resolution behind ``plan`` created (or, for ``as_would_create``'s plan, would create):
    field labels, list names and tag labels, for `mappings apply` and `mappings plan` to name them."""

    def made(x: Mapping[str, Any]) -> bool:
        return bool(x.get("created") or x.get("would_create"))

    return {
        "fields": list(dict.fromkeys(str(r.target) for r in plan.columns if r.kind == "field" and r.created)),
        "lists": [str(x["name"]) for x in plan.lists if made(x)],
        "tags": [str(x["label"]) for x in plan.tags if made(x)],
    }


def as_would_create(plan: MappingPlan, reads: int) -> MappingPlan:
    """``plan`` resolved against simulated writes (`mappings plan`), reworded for what it is: what *would*
    be created, with no placeholder id shown as if it were the account's, and ``reads`` (the requests that
    reached the account) as its request count."""
    columns = tuple(
        replace(r, target_id=None, note=r.note.replace(CREATED_NOTE, WOULD_CREATE_NOTE)) if r.created else r
        for r in plan.columns
    )

    def unmade(items: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
        return tuple(
            {**x, "_id": None, "created": False, "would_create": True} if x.get("created") else dict(x)
            for x in items
        )

    return replace(plan, columns=columns, lists=unmade(plan.lists), tags=unmade(plan.tags), requests=reads)


def report_section(result: Any, resolution: Resolution | None = None) -> dict[str, Any]:
    """``report.json``'s ``mapping`` section for a ``ValidationResult`` in one call: offline (targets by
    label) without ``resolution``, with field/list/tag ids and created/coerced notes with it."""
    headers = list(result.source_columns) or list(result.canonical.columns)
    return mapping_report(
        build_plan(result.preset, headers, result.fields, resolution, _consent_kinds(result))
    )


def _consent_kinds(result: Any) -> dict[str, str]:
    """Consent columns of a ``ValidationResult`` (column → kind); none for results that predate them."""
    found = getattr(result, "consent", None)
    return {c.column: c.kind for c in found.columns} if found is not None else {}
