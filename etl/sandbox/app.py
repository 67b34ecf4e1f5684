"""The Benchmark-compatible sandbox as an app: ``handle(Request) -> Response``.

Every ``/api`` request goes through the same pipeline, in this order (the order *is* the contract):

1. route match (unknown route → 404, before anything else, and not counted against the budget);
2. authentication by ``X-API-Key`` (401, not counted: it never reached the account) — steps 1 and 2 are
   ``precheck``, which the HTTP layer runs on the headers before it reads (or caps, 413) the body;
3. request counting by route template (``request_counts()``, for comparing a client's own report);
4. injected latency and the slow export's wall-clock delay (outside the lock, so they delay without
   serialising other requests);
5. hourly/monthly budget (429, not charged), then the request is charged;
6. injected 500 before doing anything, then the scope check (403, or 401 with ``missing_scope_status``)
   and the route (4xx in the envelope);
7. a successful write may be applied and then have its response lost (``Response.dropped()``);
8. failed requests are refunded when ``count_failed_requests`` is off; every 2xx gets the five headers.

A route that raises anything but ``ApiError`` is a bug, yet the client still gets a 500 in the envelope
(charged like any failed request) and the log one line, never a dropped connection.

One lock serialises requests: the store has one SQLite connection and request handling is short.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from etl.clock import Clock, SystemClock
from etl.sandbox import routes_contacts as contacts
from etl.sandbox import routes_export as export
from etl.sandbox import routes_lists as lists
from etl.sandbox import routes_search as search
from etl.sandbox import routes_structures as structures
from etl.sandbox.apierror import ApiError, forbidden, http_error, internal_error, unauthorized
from etl.sandbox.faults import Faults
from etl.sandbox.http import Request, Response
from etl.sandbox.knobs import Knobs
from etl.sandbox.ratelimit import RateLimiter
from etl.sandbox.routing import Ctx, Route, find_route
from etl.sandbox.store import Store

_log = logging.getLogger(__name__)

READ, WRITE = "contacts:read", "contacts:write"
_LISTS = "/api/contact-structure/{contactStructureId}/lists"
EXPORT = "/api/contact/export"

# Literal segments before parameters: /search before /{contactId}, /lists/all and /merge before /{listId}.
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/contact/search", search.search, READ, False),
    Route("POST", EXPORT, export.export, READ, False),
    Route("GET", "/api/contact", contacts.get_all, READ, False),
    Route("POST", "/api/contact", contacts.create, WRITE, True),
    Route("GET", "/api/contact/{contactId}", contacts.get_one, READ, False),
    Route("PUT", "/api/contact/{contactId}", contacts.replace, WRITE, True),
    Route("PATCH", "/api/contact/{contactId}", contacts.change_status, WRITE, True),
    Route("DELETE", "/api/contact/{contactId}", contacts.delete, WRITE, True),
    Route("GET", "/api/contact-structure", structures.get_all, READ, False),
    Route("POST", "/api/contact-structure", structures.create, WRITE, True),
    Route("GET", "/api/contact-structure/{contactStructureId}", structures.get_one, READ, False),
    Route("PUT", "/api/contact-structure/{contactStructureId}", structures.replace, WRITE, True),
    Route("GET", _LISTS + "/all", lists.all_lists, READ, False),
    Route("POST", _LISTS + "/merge", lists.merge, WRITE, True),
    Route("GET", _LISTS, lists.page, READ, False),
    Route("POST", _LISTS, lists.create, WRITE, True),
    Route("DELETE", _LISTS, lists.delete_many, WRITE, True),
    Route("GET", _LISTS + "/{listId}", lists.get_one, READ, False),
    Route("PATCH", _LISTS + "/{listId}", lists.update, WRITE, True),
    Route("DELETE", _LISTS + "/{listId}", lists.delete_one, WRITE, True),
    Route("POST", _LISTS + "/{listId}/duplicate", lists.duplicate, WRITE, True),
)


class SandboxApp:
    """Construct with ``create_app``. ``store``, ``knobs`` and ``clock`` are public for tests and benches."""

    def __init__(
        self,
        store: Store,
        knobs: Knobs,
        clock: Clock,
        rng: random.Random,
        wall_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.wall_sleep = wall_sleep  # the slow export takes real time, whatever the (fake) clock says
        self.knobs = knobs
        self.clock = clock
        self.limiter = RateLimiter(store, knobs)
        self.faults = Faults(knobs, rng, clock)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    # --- test support (not reachable over HTTP) -----------------------------------------------------------
    def request_counts(self) -> dict[str, int]:
        """Authenticated requests by ``METHOD /route/{template}``, including ones answered 4xx/429/500/dropped."""
        with self._counts_lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def close(self) -> None:
        self.store.close()

    # --- the pipeline -------------------------------------------------------------------------------------
    def precheck(self, request: Request) -> Response | None:
        """Steps 1–2 on the headers alone: the 404/401 answer, or None when the request may go on."""
        found = find_route(ROUTES, request.method, request.path)
        if found is None:
            return ApiError(404, "RecordNotFound", f"No route {request.method} {request.path}").response()
        key = request.header("X-API-Key")
        api_key = self.knobs.api_keys.get(key) if key else None
        if api_key is None:
            return unauthorized().response()
        if api_key.expires_at is not None and self.clock.now() >= api_key.expires_at:
            return unauthorized("API key expired").response()
        return None

    def error_response(self, status: int, message: str) -> Response:
        """Errors of the HTTP layer (bad framing 400, 411, 413, 500) in the Benchmark envelope."""
        return http_error(status, message).response()

    def handle(self, request: Request) -> Response:
        refused = self.precheck(request)
        if refused is not None:
            return refused
        found = find_route(ROUTES, request.method, request.path)
        key = request.header("X-API-Key")
        api_key = self.knobs.api_keys.get(key) if key else None
        assert found is not None and api_key is not None  # precheck said so
        route, params = found
        with self._counts_lock:
            self._counts[route.name] += 1
        injected = self.faults.injected(route.name)
        if injected is not None:
            return injected
        if self.faults.active:
            self.faults.delay()
        if route.template == EXPORT and self.knobs.export_delay_seconds:
            self.wall_sleep(self.knobs.export_delay_seconds)  # outside the lock: other requests go on
        with self.store.lock:
            now = self.clock.now()
            try:
                budget = self.limiter.admit(now)
            except ApiError as exc:
                return exc.response()
            response = self._run(route, params, request, now, api_key.grants(route.scope))
            if response.status >= 400 and not self.knobs.count_failed_requests:
                budget = self.limiter.refund(now, budget)
            ok = 200 <= response.status < 300
            if ok and route.write and self.faults.should_drop():
                return Response.dropped()
        if ok:
            response.headers.update(budget.headers())
        return response

    def _run(
        self, route: Route, params: dict[str, str], request: Request, now: float, allowed: bool
    ) -> Response:
        if self.faults.should_fail():
            return self.faults.server_error()
        try:
            if not allowed:
                missing = f"API key missing required scope: {route.scope}"
                if self.knobs.missing_scope_status == 401:
                    raise unauthorized(missing)
                raise forbidden(missing)
            return route.handler(Ctx(request, params, self.store, self.knobs, now))
        except ApiError as exc:
            return exc.response()
        except Exception as exc:  # a bug in a route: still an answer in the envelope, and one log line
            _log.error("sandbox: %s failed: %s: %s", route.name, type(exc).__name__, exc)
            return internal_error().response()


def create_app(
    db_path: str | Path = ":memory:", knobs: Knobs | None = None, clock: Clock | None = None
) -> SandboxApp:
    """A sandbox over ``db_path`` (created with the default structure when new); faults seeded by ``knobs.seed``."""
    knobs = knobs or Knobs()
    clock = clock or SystemClock()
    store = Store(db_path)
    store.ensure_default_structure(clock.now())
    return SandboxApp(store, knobs, clock, random.Random(knobs.seed))
