"""Extract contacts straight from a legacy platform's REST API (docs/reference/legacy-contacts-api.md, docs/reference/legacy-formats.md §3.14).

``extract_legacy`` pages through ``GET /api/v1/contacts`` with ``limit``/``offset`` and returns the same
hand-off as file extraction (``LegacyExtract.result`` is an ``etl.extract.result.ExtractResult``), so
validate, mapping and load cannot tell the difference. Frame columns, in order:

* provenance first: ``row_id`` (Int64, the entry's offset in the listing, unique: a second read's entries
  come after the first read's), ``source_file`` (the listing URL, e.g. ``https://host/api/v1/contacts``:
  never the token), ``source_line`` (Int64, offset + 1) — for the rare entries of a second read or a
  look-up (below) ``<listing URL> (second read)`` and its offset + 1, or ``<listing URL>/<id>`` and 1;
* ``email``, ``first_name``, ``last_name``, ``status``, ``id``, ``created_at``, ``updated_at`` (always
  present), then any other top-level field the API adds, in first-seen order;
* one column per ``properties`` key in first-seen order, named by the bare key unless it is empty or
  collides with a column above, then ``properties.<key>`` (``__2``, ``__3`` … if even that is taken).

Every data column is ``pl.String`` with the JSON reader's cell policy (``etl.extract.jsonl``): null and
``""`` → null, strings untouched (not trimmed), booleans ``true``/``false``, numbers as JSON writes them,
objects and arrays as compact JSON. A contact without a key has null there.

Nothing is dropped here: every listed entry is a row, so one person's entries (two contact ids whose
emails differ only in case, one contact listed twice because the listing moved under offset paging) are
merged by validate exactly like a file's duplicate rows (``etl.validate.dedup``: the latest ``updated_at``
wins for fields, an unsubscribe in any entry wins over "subscribed"), each merged entry counted as a
``merged_duplicate`` whose provenance names its offset. Paging stops at an empty page, at a page shorter
than the limit (the server's, if it reports a smaller one), or when the offset reaches the envelope's
``total``; both ``{"data": [...], "total": n}`` and a bare JSON array are accepted.

A listing that changes under offset paging also *skips* contacts: one moved or deleted before the cursor
shifts the next page left. When the pass saw the listing move (its ``total`` changed, or a contact was
listed twice) the listing is read once more (its own snapshot, equally resumable); the second read's
entries that differ from every entry already listed (a skipped contact, a changed status) are added as
rows after the first read's (row id = entries of the first read + offset). A contact the first read
listed and the second did not (it left a ``status``-filtered listing by unsubscribing, was deleted, or
was skipped again) is fetched by id (``GET …/contacts/:id``) and its current record added the same way
(after both reads, at its look-up index); a 404 keeps it as first listed. Warnings say all this, and say
when the listing was still changing during the second read.

Resumability: every fetched page is written with the cursor, in one SQLite transaction, to
``<state_dir>/legacy_extract.db`` under a fingerprint of (base URL, status filter, a one-way digest of the
token: two workspaces on the same host never share a snapshot; the token itself is never stored). A killed
extraction resumes at the saved cursor without re-reading finished pages; a finished one is rebuilt from
the snapshot without any request, so a load can resume after the legacy API is gone. ``fresh=True``
discards the snapshot and starts over.

Failures: 5xx, 429 and network errors are retried with exponential backoff and jitter on the injected
clock, honouring ``Retry-After``; 401/403 raise ``AuthError`` (exit 4); any other 4xx, a redirect or an
unreadable body raise ``InputError`` naming the URL, as does giving up after ``max_retries``.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import polars as pl

from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.errors import ConfigError
from etl.extract.legacy_fetch import CONTACTS_PATH, ENV_LEGACY_TOKEN, PageFetcher
from etl.extract.legacy_snapshot import Snapshot
from etl.extract.result import REJECT_SCHEMA, ExtractResult, FileInfo
from etl.model import PROVENANCE, ROW_ID, SOURCE_FILE, SOURCE_LINE
from etl.retry import Patience

__all__ = [
    "CORE_COLUMNS",
    "ENV_LEGACY_TOKEN",
    "STATE_DB_NAME",
    "LegacyExtract",
    "build_frame",
    "extract_legacy",
    "is_legacy_source",
    "legacy_token_from_env",
    "parse_legacy_source",
]

SOURCE_PREFIXES = ("legacy+https://", "legacy+http://")
STATE_DB_NAME = "legacy_extract.db"
CORE_COLUMNS = ("email", "first_name", "last_name", "status", "id", "created_at", "updated_at")
STATUS_FILTERS = ("subscribed", "unsubscribed")
SECOND_READ = "/second-read"  # suffix of the snapshot fingerprint of a listing's second read
LOOKUPS = "/look-ups"  # … and of the contacts the second read no longer listed, fetched by id
MAX_PAGE_SIZE = 200
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

OnPage = Callable[[int, int, int | None], None]  # (offset, records on the page, total if known)


@dataclass(frozen=True)
class LegacyExtract:
    """The raw frame plus what it cost and where it came from."""

    frame: pl.DataFrame  # every entry listed (see the module doc): validate merges one person's entries
    source: str  # the listing URL used as source_file
    property_columns: Mapping[str, str]  # frame column → properties key
    records: int  # rows of ``frame``: entries listed, plus the second read's new or changed entries
    total: int | None  # the API's last reported total (None for a bare-array API)
    pages_fetched: int  # pages read from the API by this call (a contact looked up by id counts as one)
    pages_reused: int  # pages taken from the snapshot instead of the API
    requests: int  # HTTP requests made by this call, retries included
    retries: int
    from_snapshot: bool  # the extraction had finished earlier: no request was made
    second_read: bool = False  # the listing changed while it was paged, so it was read a second time
    warnings: tuple[str, ...] = ()  # e.g. the listing changed while it was paged

    @property
    def result(self) -> ExtractResult:
        """The same hand-off as file extraction: validate cannot tell where the rows came from."""
        header = tuple(c for c in self.frame.columns if c not in PROVENANCE)
        info = FileInfo(
            path=self.source,
            encoding="utf-8",
            delimiter=None,
            kind="api",
            rows=self.records,
            header=header,
            bom=False,
        )
        # every listed entry is a row: nothing is dropped here (one person's entries merge in validate)
        return ExtractResult(frame=self.frame, rejects=pl.DataFrame(schema=REJECT_SCHEMA), files=(info,))


def is_legacy_source(source: str) -> bool:
    """True for ``legacy+https://…`` / ``legacy+http://…`` sources given to the CLI."""
    return source.strip().lower().startswith(SOURCE_PREFIXES)


def parse_legacy_source(source: str) -> str:
    """``legacy+https://host/base`` → ``https://host/base``; plain HTTP only for loopback hosts.

    The token travels as a Bearer header, so cleartext is refused outside this machine, and credentials
    or a query string in the URL are refused because the URL ends up in reports as ``source_file``.
    """
    text = source.strip()
    if not is_legacy_source(text):
        raise ConfigError(f"not a legacy API source: {text!r} (expected legacy+https://host/base)")
    url = text[len("legacy+") :]
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"legacy API source has no host: {text!r}")
    if parts.username or parts.password:
        raise ConfigError(f"put the legacy API token in {ENV_LEGACY_TOKEN}, not in the source URL")
    if parts.query or parts.fragment:
        raise ConfigError("a legacy API source URL takes no query string or fragment")
    if parts.scheme.lower() == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError("legacy+http:// is only allowed for a loopback host; use legacy+https://")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path}".rstrip("/")


def legacy_token_from_env(env: Mapping[str, str]) -> Secret:
    """The legacy API token from ``LEGACY_API_TOKEN`` (the CLI passes ``os.environ``)."""
    token = (env.get(ENV_LEGACY_TOKEN) or "").strip()
    if not token:
        raise ConfigError(f"{ENV_LEGACY_TOKEN} is not set: export the legacy platform's API token")
    return Secret(token)


def extract_legacy(
    base_url: str,
    token: Secret,
    *,
    state_dir: Path,
    status: str | None = None,
    client: httpx.Client | None = None,
    clock: Clock | None = None,
    page_size: int = 200,
    max_retries: int = 5,
    fresh: bool = False,
    on_page: OnPage | None = None,
    rng: random.Random | None = None,
    patience: Patience | None = None,
) -> LegacyExtract:
    """Read every contact (optionally only one ``status``) into a raw frame, resumably; see the module doc.
    ``patience``: an outage of the legacy API is waited out for ``max_outage`` seconds (``etl.retry``)."""
    wait = patience or Patience()
    if status is not None and status not in STATUS_FILTERS:
        raise ConfigError(f"legacy status filter must be one of {', '.join(STATUS_FILTERS)}, not {status!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"legacy page size must be between 1 and {MAX_PAGE_SIZE}")
    if max_retries < 0:
        raise ConfigError("max_retries must be ≥ 0")
    source = _listing_url(base_url)
    fingerprint = _fingerprint(source, status, token)
    second_fp, lookups_fp = f"{fingerprint}{SECOND_READ}", f"{fingerprint}{LOOKUPS}"
    with Snapshot(Path(state_dir) / STATE_DB_NAME) as snap:
        if fresh:
            for fp in (fingerprint, second_fp, lookups_fp):
                snap.reset(fp)
        pager = _Pager(
            snap,
            lambda: PageFetcher(
                client,
                token,
                source,
                clock or SystemClock(),
                rng or random.Random(),
                max_retries,
                max_outage=wait.max_outage,
                on_event=wait.on_event,
                on_outage=wait.on_outage,
            ),
            status=status,
            page_size=page_size,
            on_page=on_page,
        )
        try:
            first = pager.read(fingerprint, source)
            pages = snap.pages(fingerprint)
            second: _Read | None = None
            second_pages: list[tuple[int, list[dict[str, Any]]]] = []
            found: list[tuple[int, list[dict[str, Any]]]] = []
            reads = [first]
            if _changed(first, pages):
                second = pager.read(second_fp, source)
                second_pages = snap.pages(second_fp)
                reads += [second, pager.look_up(lookups_fp, source, _vanished(pages, second_pages))]
                found = snap.pages(lookups_fp)
        finally:
            pager.close()
    frame, props = build_frame(pages, source, second_pages, found)
    listed = sum(len(items) for _, items in pages)
    warnings = _warnings(
        first, pages, second, second_pages, frame.height - listed, _vanished(pages, second_pages), found
    )
    return LegacyExtract(
        frame=frame,
        source=source,
        property_columns=props,
        records=frame.height,
        total=(second or first).total,
        pages_fetched=sum(r.fetched for r in reads),
        pages_reused=sum(r.reused for r in reads),
        requests=pager.requests,
        retries=pager.retries,
        from_snapshot=all(r.was_done for r in reads),
        second_read=second is not None,
        warnings=warnings,
    )


@dataclass(frozen=True)
class _Read:
    """One pass over the listing: totals seen and what it cost."""

    first_total: int | None
    total: int | None
    reused: int  # pages taken from the snapshot
    fetched: int  # pages read from the API by this call
    was_done: bool  # the pass had finished before this call


class _Pager:
    """Pages through the listing under one snapshot fingerprint, checkpointing every page with the cursor.
    The HTTP client is made on first need, so a pass rebuilt from the snapshot makes none."""

    def __init__(
        self,
        snap: Snapshot,
        make_fetcher: Callable[[], PageFetcher],
        *,
        status: str | None,
        page_size: int,
        on_page: OnPage | None,
    ) -> None:
        self._snap, self._make = snap, make_fetcher
        self._status, self._page_size, self._on_page = status, page_size, on_page
        self._fetcher: PageFetcher | None = None

    @property
    def requests(self) -> int:
        return self._fetcher.requests if self._fetcher is not None else 0

    @property
    def retries(self) -> int:
        return self._fetcher.retries if self._fetcher is not None else 0

    def _state(self, fp: str, source: str) -> tuple[int, int | None, int | None, bool]:
        """The snapshot's progress for ``fp`` (next offset, first and last total, done), started if new."""
        state = self._snap.load(fp)
        if state is None:
            self._snap.start(fp, source, self._status)
            state = (0, None, None, False)
        return state

    def read(self, fp: str, source: str) -> _Read:
        next_offset, first_total, total, done = self._state(fp, source)
        was_done = done
        reused = self._snap.page_count(fp)
        fetched = 0
        while not done:
            if self._fetcher is None:
                self._fetcher = self._make()
            params: dict[str, str | int] = {"limit": self._page_size, "offset": next_offset}
            if self._status:
                params["status"] = self._status
            items, page_total, page_limit = self._fetcher.page(params, saved_pages=reused + fetched)
            total = page_total if page_total is not None else total
            first_total = total if first_total is None else first_total
            done = _last_page(len(items), next_offset, self._page_size, page_limit, total)
            self._snap.save_page(fp, next_offset, items, next_offset + len(items), first_total, total, done)
            fetched += bool(items)
            if self._on_page is not None and items:
                self._on_page(next_offset, len(items), total)
            next_offset += len(items)
        return _Read(first_total, total, reused, fetched, was_done)

    def look_up(self, fp: str, source: str, ids: Sequence[str]) -> _Read:
        """Fetch ``ids`` one by one, each answer checkpointed as a page at its index (none for a 404)."""
        index, _, _, done = self._state(fp, source)
        was_done = done
        reused = self._snap.page_count(fp)
        fetched = 0
        while not done:
            found = None
            if index < len(ids):
                if self._fetcher is None:
                    self._fetcher = self._make()
                found = self._fetcher.contact(ids[index], saved_pages=reused + fetched)
            done = index + 1 >= len(ids)
            self._snap.save_page(fp, index, [found] if found else [], index + 1, None, None, done)
            fetched += found is not None
            index += 1
        return _Read(None, None, reused, fetched, was_done)

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()


def _identity(rec: Mapping[str, Any]) -> str | None:
    """Who an entry is: its id, else its trimmed lower-cased email (the key validate merges on)."""
    if _has_id(rec):
        return f"id:{rec['id']}"
    email = rec.get("email")
    return f"email:{email.strip().lower()}" if isinstance(email, str) and email.strip() else None


def _vanished(
    pages: list[tuple[int, list[dict[str, Any]]]], second: list[tuple[int, list[dict[str, Any]]]]
) -> list[str]:
    """Ids the first read listed and the second did not: the contact left the (filtered) listing, was
    deleted, or was skipped again. Only a look-up by id can say which, and give its current status."""
    again = {str(rec["id"]) for _, items in second for rec in items if _has_id(rec)}
    out: dict[str, None] = {}
    for _, items in pages:
        out.update(
            dict.fromkeys(str(rec["id"]) for rec in items if _has_id(rec) and str(rec["id"]) not in again)
        )
    return list(out)


def _has_id(rec: Mapping[str, Any]) -> bool:
    ident = rec.get("id")
    return isinstance(ident, str | int) and not isinstance(ident, bool) and bool(str(ident).strip())


def _repeats(pages: list[tuple[int, list[dict[str, Any]]]]) -> int:
    """Entries whose contact (by id, else email) the pass had already listed: offset paging saw a shift."""
    seen: set[str] = set()
    repeats = 0
    for _, items in pages:
        for rec in items:
            who = _identity(rec)
            repeats += who in seen
            if who is not None:
                seen.add(who)
    return repeats


def _changed(read: _Read, pages: list[tuple[int, list[dict[str, Any]]]]) -> bool:
    """Whether the listing moved under the pass: its total changed, or one contact was listed twice. Either
    way offset paging may have skipped someone, so the caller reads the listing a second time."""
    return (read.first_total is not None and read.total != read.first_total) or _repeats(pages) > 0


def _warnings(
    first: _Read,
    pages: list[tuple[int, list[dict[str, Any]]]],
    second: _Read | None,
    second_pages: list[tuple[int, list[dict[str, Any]]]],
    added: int,
    vanished: list[str],
    found: list[tuple[int, list[dict[str, Any]]]],
) -> tuple[str, ...]:
    if second is None:
        return ()
    what = (
        f"total {first.first_total} → {first.total}"
        if first.first_total is not None and first.total != first.first_total
        else f"{_repeats(pages)} contact(s) listed twice"
    )
    out = [
        f"the listing changed while it was paged ({what}): it was read a second time to catch contacts "
        f"offset paging skipped; {added} new or changed entr{'y' if added == 1 else 'ies'} added, merged "
        "with the first read's like duplicate rows (consent wins)"
    ]
    if vanished:
        gone = len(vanished) - sum(len(items) for _, items in found)
        out.append(
            f"{len(vanished)} contact(s) listed by the first read were missing from the second (another "
            f"status than the filter, deleted, or skipped again): looked up by id; {gone} no longer "
            "exist and are kept as first listed"
        )
    if _changed(second, second_pages):
        out.append(
            "the listing was still changing during the second read: contacts may be missing; re-extract "
            "with a fresh snapshot (--legacy-fresh) when the source is quiet"
        )
    return tuple(out)


def _last_page(count: int, offset: int, asked: int, server_limit: int | None, total: int | None) -> bool:
    """Whether paging is over. A server that caps ``limit`` below ours and says so must not end it early;
    a ``total`` (when the envelope has one) ends it without spending a request on an empty page."""
    if count == 0 or count < min(server_limit or asked, asked):
        return True
    return total is not None and offset + count >= total


def build_frame(
    pages: list[tuple[int, list[dict[str, Any]]]],
    source: str,
    second: Sequence[tuple[int, list[dict[str, Any]]]] = (),
    found: Sequence[tuple[int, list[dict[str, Any]]]] = (),
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Records (page offset, items) → (raw frame, column → property key). Every entry of ``pages`` is a row
    (row id = its offset, line = offset + 1, file = ``source``); an entry of the ``second`` read is a row
    only when no entry of either read is identical to it (row id = entries of the first read + its
    offset, line = offset + 1, file = ``<source> (second read)``), so a second read of a quiet listing
    adds nothing. ``found`` (contacts looked up by id, at their look-up index) come last by the same rule
    (file = ``<source>/<id>``, line 1): a merged row's provenance names the entry it was."""
    records = [
        (offset + i, source, offset + i + 1, rec)
        for offset, items in sorted(pages, key=lambda p: p[0])
        for i, rec in enumerate(items)
    ]
    # a quiet listing (the usual case) has no second read: no record is serialised again for it
    seen = {_signature(rec) for *_, rec in records} if second or found else set()
    base = _end(pages)
    for start, more in ((base, second), (base + _end(second), found)):
        for offset, items in sorted(more, key=lambda p: p[0]):
            for i, rec in enumerate(items):
                sig = _signature(rec)
                if sig not in seen:
                    seen.add(sig)
                    where = (
                        (f"{source} (second read)", offset + i + 1) if more is second else _by_id(source, rec)
                    )
                    records.append((start + offset + i, *where, rec))
    top: dict[str, None] = dict.fromkeys(CORE_COLUMNS)
    prop_keys: dict[str, None] = {}
    for *_, rec in records:
        top.update(dict.fromkeys(k for k in rec if k != "properties"))
        prop_keys.update(dict.fromkeys(_props(rec)))
    props = _property_columns(prop_keys, taken=set(top) | set(PROVENANCE))
    columns: dict[str, list[Any]] = {
        ROW_ID: [r[0] for r in records],
        SOURCE_FILE: [r[1] for r in records],
        SOURCE_LINE: [r[2] for r in records],
    }
    columns.update({name: [_cell(r[3].get(name)) for r in records] for name in top})
    columns.update({col: [_cell(_props(r[3]).get(key)) for r in records] for col, key in props.items()})
    schema = {name: pl.String for name in columns} | {ROW_ID: pl.Int64, SOURCE_LINE: pl.Int64}
    return pl.DataFrame(columns, schema=schema), props


def _by_id(source: str, rec: Mapping[str, Any]) -> tuple[str, int]:
    return f"{source}/{rec.get('id')}", 1


def _end(pages: Sequence[tuple[int, list[dict[str, Any]]]]) -> int:
    return max((offset + len(items) for offset, items in pages), default=0)


def _signature(rec: Mapping[str, Any]) -> str:
    return json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _property_columns(keys: Iterable[str], *, taken: set[str]) -> dict[str, str]:
    """Column name → property key: the bare key, ``properties.<key>`` on a clash, then ``__2``, ``__3`` …"""
    names: dict[str, str] = {}
    for key in keys:
        name = key if key and key not in taken else f"properties.{key}"
        k = 2
        while name in taken:
            name, k = f"properties.{key}__{k}", k + 1
        taken.add(name)
        names[name] = key
    return names


def _props(rec: Mapping[str, Any]) -> Mapping[str, Any]:
    value = rec.get("properties")
    return value if isinstance(value, dict) else {}


def _cell(value: Any) -> str | None:
    """A JSON value as the text a CSV export would hold; null and "" are null."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _listing_url(base_url: str) -> str:
    """The contacts listing URL for an API root; a trailing ``/api/v1`` or ``/api/v1/contacts`` is tolerated."""
    parts = urlsplit(base_url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"legacy API base URL must be http(s)://host[/path], got {base_url.strip()!r}")
    if parts.username or parts.password:
        raise ConfigError(f"put the legacy API token in {ENV_LEGACY_TOKEN}, not in the base URL")
    path = parts.path.rstrip("/")
    for suffix in (CONTACTS_PATH, CONTACTS_PATH.rsplit("/", 1)[0]):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme.lower()}://{parts.netloc}{path}{CONTACTS_PATH}"


def _fingerprint(source: str, status: str | None, token: Secret) -> str:
    token_digest = hashlib.sha256(token.reveal().encode("utf-8")).hexdigest()[:16]
    doc = json.dumps([1, source, status or "", token_digest], separators=(",", ":"))
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:32]
