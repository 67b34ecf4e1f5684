"""An emulator of the legacy platform's contacts API (docs/reference/legacy-contacts-api.md, docs/reference/legacy-formats.md §3.14).

It is the test double for ``etl.extract.legacy_api`` and a demo source: serve it with
``RunningServer(LegacyApp(...))``. State is in memory, guarded by one lock (the HTTP server is threaded).

Wire contract, where docs/reference/legacy-contacts-api.md is silent this module decides, and the extractor relies on it:

* Auth: ``Authorization: Bearer <token>``; each token belongs to one workspace (``tokens`` maps token →
  workspace). Contacts of another workspace are invisible (404, never 403).
* Every error is ``{"error": {"code": <code>, "message": <text>}}`` plus ``"field"`` for a
  ``validation_error`` about one field. Codes: ``invalid_request`` (400: malformed JSON, bad query
  parameter, wrong method), ``validation_error`` (400), ``unauthorized`` (401), ``not_found`` (404),
  ``conflict`` (409), ``internal_error`` (500: safe to retry).
* ``GET /api/v1/contacts`` answers ``{"data": [...], "total": n, "limit": l, "offset": o}`` (``total``
  counts the filtered set). ``envelope="array"`` answers a bare JSON array instead: the seed does not fix
  the shape, so the extractor must handle both. Order is creation order, stable across pages.
* ``limit``: integer 1..200, default 50; ``offset``: integer ≥ 0, default 0; ``status``: ``subscribed`` |
  ``unsubscribed``; ``search``: case-insensitive substring of the email. Anything else → 400.
* ``POST`` rejects unknown body fields (``validation_error``) so a client bug shows up here, not in prod.
  ``PATCH`` merges ``properties`` shallowly (a key set to ``null`` stays, with value null); sending an
  ``email`` different from the stored one is a ``validation_error``, the same one (any case) is a no-op.

Fault injection, for "the API failed mid-way" tests: ``fail_at`` (0-based request indices),
``fail_offsets`` (list offsets that fail the first time they are asked for), ``fail_rate`` (seeded random),
``drop_at`` (request indices whose connection is closed without a reply), ``retry_after`` (a
``Retry-After`` header on injected 500s) and ``latency`` (seconds slept on the injected clock per request).
``requests`` logs every request as ``(method, path, query)`` and ``statuses`` the status sent for each.

Data knobs, for "one person, several entries" tests (deterministic: no timing involved):

* ``add_case_variant(contact_id, status=…)`` adds a second contact (its own id, newer timestamps) whose
  email differs from ``contact_id``'s only in case, listed just before it (or after): what a platform
  whose uniqueness check was once case-sensitive still holds.
* ``move_after_page(offset, contact_id, status=…)``: once a listing page at ``offset`` has been served,
  the contact's status changes (``updated_at`` moves on) and it moves to the end of the listing, as on a
  platform that lists by last change. Offset paging then lists it twice — the old status on a page
  already read, the new one at the end — and, because everything after its old place shifts left by one,
  skips the contact that opened the next page.
"""

from __future__ import annotations

import copy
import random
import re
import threading
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from etl.clock import Clock, SystemClock
from etl.sandbox.http import Request, Response
from etl.sandbox.legacy_seed import seed_contact

API_PREFIX = "/api/v1/contacts"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
STATUSES = ("subscribed", "unsubscribed")
DEFAULT_TOKENS: Mapping[str, str] = {"legacy_token": "workspace-1"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_CREATE_FIELDS = frozenset({"email", "first_name", "last_name", "status", "properties"})
_PATCH_FIELDS = frozenset({"first_name", "last_name", "status", "properties", "email"})


class LoggedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter


class ApiError(Exception):
    """Raised inside a handler; ``handle`` turns it into the error envelope."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        err: dict[str, str] = {"code": self.code, "message": self.message}
        if self.field:
            err["field"] = self.field
        return Response.json(self.status, {"error": err}, headers)


class LegacyApp:
    """The legacy contacts API as a ``handle(Request) -> Response`` app."""

    def __init__(
        self,
        tokens: Mapping[str, str] | None = None,
        *,
        seed: int = 0,
        fail_rate: float = 0.0,
        fail_at: Collection[int] = (),
        fail_offsets: Collection[int] = (),
        drop_at: Collection[int] = (),
        retry_after: int | None = None,
        latency: float = 0.0,
        envelope: str = "object",
        clock: Clock | None = None,
    ) -> None:
        if envelope not in ("object", "array"):
            raise ValueError("envelope must be 'object' or 'array'")
        self.tokens = dict(tokens if tokens is not None else DEFAULT_TOKENS)
        self.fail_rate = fail_rate
        self.fail_at = set(fail_at)
        self.fail_offsets = set(fail_offsets)
        self.drop_at = set(drop_at)
        self.retry_after = retry_after
        self.latency = latency
        self.envelope = envelope
        self.clock = clock or SystemClock()
        self.requests: list[LoggedRequest] = []
        self.statuses: list[int] = []
        self._ids = random.Random(f"{seed}/ids")
        self._faults = random.Random(f"{seed}/faults")
        self._lock = threading.Lock()
        self._contacts: dict[str, dict[str, dict[str, Any]]] = {}  # workspace → id → contact (created order)
        self._emails: dict[str, dict[str, str]] = {}  # workspace → lower-cased email → id
        self._moves: dict[int, list[tuple[str, str, str]]] = {}  # served offset → (workspace, id, status)

    # --- test helpers -----------------------------------------------------------------------------------
    @property
    def default_token(self) -> str:
        return next(iter(self.tokens))

    def seed_contacts(
        self,
        n: int,
        *,
        unsubscribed_every: int = 7,
        with_properties: bool = True,
        workspace: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create ``n`` realistic contacts (see ``legacy_seed``) spaced ten minutes apart, oldest first."""
        ws = workspace or self.tokens[self.default_token]
        now = self.clock.now()
        created = []
        with self._lock:
            start = len(self._contacts.get(ws, {}))
            for k in range(n):
                body = seed_contact(
                    start + k, unsubscribed_every=unsubscribed_every, with_properties=with_properties
                )
                created.append(self._insert(ws, body, now - (n - k) * 600))
        return created

    def add_case_variant(
        self,
        contact_id: str,
        *,
        status: str = "subscribed",
        listed_first: bool = True,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        """Add a contact whose email is ``contact_id``'s with the case of its local part swapped, a copy
        of its names and properties, ``status``, timestamps of now (newer than a seeded contact's) and its
        own id, listed right before ``contact_id`` (or right after). The create endpoint would refuse it
        (409): this stands for data from before the platform compared emails case-insensitively."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        ws = workspace or self.tokens[self.default_token]
        with self._lock:
            original = self._contacts.get(ws, {}).get(contact_id)
            if original is None:
                raise KeyError(contact_id)
            local, _, domain = original["email"].rpartition("@")
            email = f"{local.swapcase()}@{domain}"
            if email == original["email"]:
                raise ValueError(f"{original['email']} has no letter to change the case of")
            body = {**copy.deepcopy(original), "email": email, "status": status}
            variant = self._insert(ws, body, self.clock.now())
            self._emails[ws][email.lower()] = contact_id  # the create endpoint still finds the original
            order = [k for k in self._contacts[ws] if k != variant["id"]]
            at = order.index(contact_id) + (0 if listed_first else 1)
            order.insert(at, variant["id"])
            self._contacts[ws] = {k: self._contacts[ws][k] for k in order}
            return copy.deepcopy(variant)

    def move_after_page(
        self, offset: int, contact_id: str, *, status: str = "unsubscribed", workspace: str | None = None
    ) -> None:
        """Once a listing page at ``offset`` has been answered (200), set ``contact_id``'s status, move its
        ``updated_at`` to now and move it to the end of the listing (see the module doc)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        ws = workspace or self.tokens[self.default_token]
        with self._lock:
            if contact_id not in self._contacts.get(ws, {}):
                raise KeyError(contact_id)
            self._moves.setdefault(offset, []).append((ws, contact_id, status))

    def served_list_offsets(self) -> list[int]:
        """Offsets of the list pages answered with 200, in order: "no page read twice" checks use this."""
        with self._lock:
            return [
                int(r.query.get("offset") or 0)
                for r, s in zip(self.requests, self.statuses, strict=True)
                if r.method == "GET" and r.path.rstrip("/") == API_PREFIX and s == 200
            ]

    def contacts(self, workspace: str | None = None) -> list[dict[str, Any]]:
        ws = workspace or self.tokens[self.default_token]
        with self._lock:
            return [copy.deepcopy(c) for c in self._contacts.get(ws, {}).values()]

    # --- HTTP ---------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if self.latency:
            self.clock.sleep(self.latency)
        with self._lock:
            index = len(self.requests)
            query = {k: v[0] for k, v in request.query.items() if v}
            self.requests.append(LoggedRequest(request.method, request.path, query))
            response = self._respond(index, request, query)
            self.statuses.append(0 if response.drop_connection else response.status)
            return response

    def _respond(self, index: int, request: Request, query: dict[str, str]) -> Response:
        if index in self.drop_at:
            return Response.dropped()
        if self._injected_failure(index, request, query):
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
            return ApiError(500, "internal_error", "unexpected server error; safe to retry").response(headers)
        try:
            workspace = self._authenticate(request)
            return self._route(workspace, request, query)
        except ApiError as exc:
            return exc.response()

    def _injected_failure(self, index: int, request: Request, query: dict[str, str]) -> bool:
        if index in self.fail_at:
            return True
        if request.method == "GET" and request.path.rstrip("/") == API_PREFIX and self.fail_offsets:
            offset = _int_or_none(query.get("offset", "0"))
            if offset in self.fail_offsets:
                self.fail_offsets.discard(offset)  # once: the retry succeeds
                return True
        return self.fail_rate > 0 and self._faults.random() < self.fail_rate

    def _authenticate(self, request: Request) -> str:
        auth = request.header("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        workspace = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if workspace is None:
            raise ApiError(401, "unauthorized", "missing or invalid API key")
        return workspace

    def _route(self, ws: str, request: Request, query: dict[str, str]) -> Response:
        path = request.path.rstrip("/")
        if path == API_PREFIX:
            if request.method == "GET":
                return self._list(ws, query)
            if request.method == "POST":
                return Response.json(201, self._create(ws, _json_object(request)))
            raise ApiError(405, "invalid_request", f"{request.method} is not allowed on {API_PREFIX}")
        if path.startswith(API_PREFIX + "/") and path.count("/") == API_PREFIX.count("/") + 1:
            contact = self._contacts.get(ws, {}).get(path.rsplit("/", 1)[1])
            if contact is None:
                raise ApiError(404, "not_found", "contact not found in this workspace")
            if request.method == "GET":
                return Response.json(200, copy.deepcopy(contact))
            if request.method == "PATCH":
                return Response.json(200, self._update(ws, contact, _json_object(request)))
            if request.method == "DELETE":
                self._delete(ws, contact)
                return Response(204)
            raise ApiError(405, "invalid_request", f"{request.method} is not allowed on a contact")
        raise ApiError(404, "not_found", f"no such endpoint: {request.path}")

    def _list(self, ws: str, query: dict[str, str]) -> Response:
        limit = _query_int(query, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        offset = _query_int(query, "offset", 0, low=0, high=None)
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, "invalid_request", "status must be 'subscribed' or 'unsubscribed'")
        needle = (query.get("search") or "").lower()
        rows = [
            c
            for c in self._contacts.get(ws, {}).values()
            if (status is None or c["status"] == status) and needle in c["email"].lower()
        ]
        page = copy.deepcopy(rows[offset : offset + limit])
        total = len(rows)
        for move in self._moves.pop(offset, []):
            self._move_to_end(*move)
        if self.envelope == "array":
            return Response.json(200, page)
        return Response.json(200, {"data": page, "total": total, "limit": limit, "offset": offset})

    def _move_to_end(self, ws: str, contact_id: str, status: str) -> None:
        contacts = self._contacts.get(ws, {})
        contact = contacts.pop(contact_id, None)
        if contact is None:  # deleted since the move was planned
            return
        contact["status"] = status
        contact["updated_at"] = _iso(max(self.clock.now(), _epoch(contact["updated_at"]) + 1))
        contacts[contact_id] = contact

    def _delete(self, ws: str, contact: dict[str, Any]) -> None:
        """Forget a contact; its email stays taken while a case variant of it remains."""
        del self._contacts[ws][contact["id"]]
        key = contact["email"].lower()
        if self._emails[ws].get(key) == contact["id"]:
            del self._emails[ws][key]
            for other in self._contacts[ws].values():
                if other["email"].lower() == key:
                    self._emails[ws][key] = other["id"]
                    break

    def _create(self, ws: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - _CREATE_FIELDS)
        if unknown:
            raise ApiError(400, "validation_error", f"unknown field: {unknown[0]}", unknown[0])
        email = body.get("email")
        if not isinstance(email, str) or not email.strip():
            raise ApiError(400, "validation_error", "email is required", "email")
        if not _EMAIL.match(email.strip()):
            raise ApiError(400, "validation_error", "email is not a valid address", "email")
        _check_fields(body)
        if email.strip().lower() in self._emails.get(ws, {}):
            raise ApiError(409, "conflict", "a contact with this email already exists in this workspace")
        return copy.deepcopy(self._insert(ws, body, self.clock.now()))

    def _insert(self, ws: str, body: Mapping[str, Any], created: float) -> dict[str, Any]:
        stamp = _iso(created)
        contact = {
            "id": str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            "email": body["email"].strip(),
            "first_name": body.get("first_name"),
            "last_name": body.get("last_name"),
            "status": body.get("status") or "subscribed",
            "properties": copy.deepcopy(body.get("properties") or {}),
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._contacts.setdefault(ws, {})[contact["id"]] = contact
        self._emails.setdefault(ws, {})[contact["email"].lower()] = contact["id"]
        return contact

    def _update(self, ws: str, contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - _PATCH_FIELDS)
        if unknown:
            raise ApiError(400, "validation_error", f"unknown field: {unknown[0]}", unknown[0])
        if "email" in body and str(body["email"]).strip().lower() != contact["email"].lower():
            raise ApiError(400, "validation_error", "email cannot be changed after creation", "email")
        _check_fields(body)
        for name in ("first_name", "last_name", "status"):
            if name in body:
                contact[name] = body[name]
        if body.get("properties"):
            contact["properties"].update(copy.deepcopy(body["properties"]))
        contact["updated_at"] = _iso(self.clock.now())
        return copy.deepcopy(contact)


def _check_fields(body: Mapping[str, Any]) -> None:
    for name in ("first_name", "last_name"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "validation_error", f"{name} must be a string", name)
    if "status" in body and body["status"] not in STATUSES:
        raise ApiError(400, "validation_error", "status must be 'subscribed' or 'unsubscribed'", "status")
    if "properties" in body and body["properties"] is not None and not isinstance(body["properties"], dict):
        raise ApiError(400, "validation_error", "properties must be a JSON object", "properties")


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_request", "malformed JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    return body


def _query_int(query: Mapping[str, str], name: str, default: int, *, low: int, high: int | None) -> int:
    if name not in query:
        return default
    value = _int_or_none(query[name])
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"≥ {low}"
        raise ApiError(400, "invalid_request", f"{name} must be an integer {bounds}")
    return value


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
