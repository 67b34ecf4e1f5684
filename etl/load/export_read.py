"""Reading the account from ``POST /api/contact/export``: its CSV → the same index documents paging builds.

The export's body and columns are undocumented (docs/reference/benchmark-api.md §8.1, §13 #16), so nothing
is assumed: the columns are *learned* from the header against the structure (fields by ``_id`` or by label,
the usual names of the key, id, status, lists and tags columns), and the answer is used only when it
carries everything the decision reads (``etl.load.index.compact``): the contact ``_id`` (a PUT/PATCH
target), the key, the status, every field of the structure (a PUT sends the whole document: a missing
field column would blank that field), lists and tags. A list or tag cell may hold ids, or names/labels
when they are unambiguous. Anything else is an ``ExportDoubt`` naming what was wrong, and the caller reads
the account by paging instead: a wrong index would write wrong data, a slower one only costs requests.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etl.mailbox import mailbox_key

Doc = dict[str, Any]

# header names (lower-cased, only letters and digits kept) each role is recognised by
ROLE_NAMES: dict[str, frozenset[str]] = {
    "id": frozenset({"id", "contactid"}),
    "key": frozenset({"key", "email", "emailaddress", "contactkey"}),
    "status": frozenset({"status", "contactstatus", "primarystatus"}),
    "secondary": frozenset({"substatus", "contactsubstatus", "secondarystatus", "secondary"}),
    "lists": frozenset({"lists", "list", "listids", "listnames"}),
    "tags": frozenset({"tags", "tag", "tagids", "taglabels"}),
}
REQUIRED = ("id", "key", "status", "lists", "tags")
SEPARATOR = re.compile(r"[;|]")
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
STATUSES = ("active", "inactive", "unsubscribe", "")


class ExportDoubt(Exception):
    """Why the export cannot stand in for paging (one line, said once, remembered for the account).

    ``transient``: the answer looks cut short (empty, a ragged line, a row count search disagrees with),
    which a later afternoon may not repeat; any other doubt is about what the export *is* for this account.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Columns:
    """What each column of an export holds: a role, a field ``_id``, or nothing we need."""

    roles: dict[str, int]  # role → column index
    fields: dict[str, int]  # field _id → column index
    by: str  # "id" | "label": how the field columns were named

    def describe(self) -> str:
        return f"fields by {self.by}, {len(self.fields)} field column(s), " + ", ".join(sorted(self.roles))


def learn_columns(header: Sequence[str], structure: Mapping[str, Any]) -> Columns:
    """Match a header against ``structure`` (its ``fields`` with ``_id``/``label``, its ``keyName``)."""
    field_ids = {str(f["_id"]) for f in structure.get("fields") or []}
    labels: dict[str, list[str]] = {}
    for f in structure.get("fields") or []:
        labels.setdefault(norm(str(f.get("label") or "")), []).append(str(f["_id"]))
    names = dict(ROLE_NAMES)
    names["key"] = names["key"] | {norm(str(structure.get("keyName") or "key"))}
    roles: dict[str, int] = {}
    fields: dict[str, int] = {}
    by = "id"
    for i, raw in enumerate(header):
        name = raw.strip()
        if name in field_ids:
            fields.setdefault(name, i)
            continue
        n = norm(name)
        role = next((r for r, ns in names.items() if n in ns and r not in roles), None)
        if role is not None:
            roles[role] = i
        elif len(labels.get(n, ())) == 1:
            fields.setdefault(labels[n][0], i)
            by = "label"
    missing = [r for r in REQUIRED if r not in roles]
    missing += sorted(
        str(f.get("label") or f["_id"]) for f in structure.get("fields") or [] if str(f["_id"]) not in fields
    )
    if missing:
        raise ExportDoubt(f"the export has no column for {', '.join(missing)}")
    return Columns(roles, fields, by)


class Names:
    """Cell values → ids: ids pass, unambiguous names/labels map; ``more`` fetches names when first needed."""

    def __init__(self, what: str, known: Mapping[str, str] | None, more: Callable[[], Mapping[str, str]]):
        self.what = what
        self._by_name: Mapping[str, str] | None = known
        self._more = more

    def ids(self, cell: str) -> list[str]:
        out: list[str] = []
        for value in (v.strip() for v in SEPARATOR.split(cell)):
            if not value:
                continue
            if OBJECT_ID.fullmatch(value) and (self._by_name is None or value not in self._by_name):
                out.append(value)  # an id as search would give it: no request to learn the names
                continue
            if self._by_name is None:
                self._by_name = self._more()
            found = self._by_name.get(value)
            if found is None:
                raise ExportDoubt(
                    f"the export names {self.what} {value[:60]!r} that the structure does not have"
                )
            out.append(found)
        return sorted(set(out))


def name_map(items: Sequence[Mapping[str, Any]], name: str) -> dict[str, str]:
    """``_id`` → ``_id`` and unambiguous ``name`` → ``_id`` (a name two items share maps to nothing)."""
    out = {str(x["_id"]): str(x["_id"]) for x in items if "_id" in x}
    seen: dict[str, list[str]] = {}
    for x in items:
        if isinstance(x.get(name), str) and "_id" in x:
            seen.setdefault(x[name], []).append(str(x["_id"]))
    out.update({n: ids[0] for n, ids in seen.items() if len(ids) == 1 and n not in out})
    return out


def read_export(
    content_type: str,
    data: bytes,
    structure: Mapping[str, Any],
    lists: Callable[[], Mapping[str, str]],
    total: int,
) -> tuple[dict[str, Doc], Columns]:
    """The index (lower-cased key → document) an export answer holds, or ``ExportDoubt``.

    ``lists`` fetches the structure's list name → ``_id`` map, called only when a cell names a list by
    something other than its ``_id``. ``total`` is the search's ``totalRecords``: a row count that
    disagrees is a truncated (or over-wide) answer.
    """
    if "json" in content_type.lower() or "html" in content_type.lower():
        raise ExportDoubt(f"the export answered {content_type.split(';')[0]}, not CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportDoubt("the export's answer is not UTF-8 text") from None
    if "\x00" in text:
        raise ExportDoubt("the export's answer is not CSV (it holds NUL bytes)")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ExportDoubt("the export's answer is empty", transient=True)
        columns = learn_columns(header, structure)
        tags = Names("tag", name_map(structure.get("tags") or [], "label"), dict)
        list_names = Names("list", None, lists)
        docs: dict[str, Doc] = {}
        rows = 0
        width = len(header)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise ExportDoubt(
                    f"export line {line} has {len(row)} cells, the header {width}", transient=True
                )
            rows += 1
            doc = _doc(row, columns, list_names, tags)
            docs[mailbox_key(doc["key"])] = doc
    except csv.Error as exc:
        raise ExportDoubt(f"the export's answer is not CSV we can read: {exc}") from None
    if rows != total:
        raise ExportDoubt(f"the export has {rows:,} contacts but search counts {total:,}", transient=True)
    return docs, columns


def _doc(row: Sequence[str], c: Columns, lists: Names, tags: Names) -> Doc:
    def cell(role: str) -> str:
        i = c.roles.get(role)
        return row[i].strip() if i is not None else ""

    if not cell("id") or not cell("key"):
        raise ExportDoubt("an export row has no contact id or key")
    if cell("status").lower() not in STATUSES:  # e.g. a field labelled "Status" taken for the status column
        raise ExportDoubt(f"the export's status column holds {cell('status')[:40]!r}, not a contact status")
    return {
        "_id": cell("id"),
        "key": cell("key"),
        "status": cell("status") or None,
        "secondary": cell("secondary") or None,
        "fields": {fid: row[i] for fid, i in c.fields.items() if row[i] != ""},
        "lists": lists.ids(cell("lists")),
        "tags": tags.ids(cell("tags")),
    }
