"""The Benchmark HTTP client: one place that knows what a response means and when to try again.

Policy, in one sentence per case (``classify`` is the single function that decides):

- 2xx → fine; every response's rate headers are parsed into a ``RateState`` and handed to the pacer.
- 5xx and network errors → ``RetriableLoadError``; retried with capped exponential backoff + jitter
  (``etl.retry``), and with ``--max-outage`` an outage is waited out before the run pauses.
- 429 hourly → retriable after ``Retry-After`` (the pacer waits); 429 monthly → ``QuotaExhausted`` (a
  ``Paused``) with the UTC reset, slept through with ``--wait-for-quota`` when it is within ``--max-wait``.
- 401/403 → ``AuthError`` saying which check failed, never retried: a 401 means the key itself was refused
  (unknown, revoked, deactivated or expired: named by where it came from, never by its value); a 403 that
  names a scope means the key is valid but lacks it, and the message names that scope and what the request
  was doing (``ENDPOINT_SCOPES``). A 401 that names a scope is read as a missing scope too, in case the
  service ever answers a missing scope with 401.
- 400 ``DuplicateFieldError`` / ``ConcurrencyError`` / ``ValidationError`` and 404 → typed ``RecordRejected``
  subclasses, never retried: the loader acts on them (exists, re-GET, record failure).

Every write the loader sends is safe to repeat (the per-structure uniqueness rule turns a repeated create
into ``DuplicateFieldError``; a repeated PUT meets a stale ``__v``; a status PATCH is idempotent), so
ambiguous attempts (sent, no answer) are retried too, and ``ambiguous`` tells the caller one happened.
The API key travels only in the ``X-API-Key`` header and is scrubbed from every message we build.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.errors import (
    AuthError,
    DuplicateKey,
    FatalLoadError,
    InvalidRequest,
    LoadError,
    NotFound,
    Paused,
    QuotaExhausted,
    RetriableLoadError,
    StaleVersion,
)
from etl.retry import Backoff, Patience, Retrier, duration, retry_after_seconds

__all__ = [  # the four 400/404 kinds live in etl.errors; named here too for the loader's imports
    "BenchmarkClient",
    "DuplicateKey",
    "InvalidRequest",
    "NotFound",
    "RateState",
    "StaleVersion",
    "classify",
    "utc_iso",
]

HOUR = 3600.0
MAX_QUOTA_WAITS = 2  # quota waits per request: a second refusal after a reset is the server's, not ours
_SCOPE = re.compile(r"scope:?\s*([a-z]+:[a-z]+)", re.IGNORECASE)
KEYS_PAGE = "Settings > API Keys"

# What each request the tool sends does, in words, and the scope the API requires for it (the API
# reference's operation index): a refusal names both, so the user knows which scope to grant and why.
ENDPOINT_SCOPES: dict[str, tuple[str, str]] = {
    "POST /api/contact/search": ("contacts:read", "searching contacts"),
    "GET /api/contact": ("contacts:read", "reading contacts"),
    "GET /api/contact/{contactId}": ("contacts:read", "reading a contact"),
    "POST /api/contact": ("contacts:write", "creating contacts"),
    "PUT /api/contact/{contactId}": ("contacts:write", "updating contacts"),
    "PATCH /api/contact/{contactId}": ("contacts:write", "changing a contact's status"),
    "DELETE /api/contact/{contactId}": ("contacts:write", "deleting contacts"),
    "GET /api/contact-structure": ("contacts:read", "reading the contact structures"),
    "GET /api/contact-structure/{structureId}": ("contacts:read", "reading the contact structure"),
    "PUT /api/contact-structure/{structureId}": (
        "contacts:write",
        "adding fields or tags to the contact structure",
    ),
    "GET /api/contact-structure/{structureId}/lists/all": ("contacts:read", "reading the lists"),
    "POST /api/contact-structure/{structureId}/lists": ("contacts:write", "creating lists"),
}


@dataclass
class RateState:
    """What the last response said about the budgets; ``None`` where a header was absent."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    monthly_limit: int | None = None
    monthly_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers | Mapping[str, str]) -> RateState:
        raw = headers.raw if isinstance(headers, httpx.Headers) else headers.items()
        h = {(k.decode("latin-1") if isinstance(k, bytes) else k).lower(): v for k, v in raw}
        return cls(
            limit=_int(h.get("x-ratelimit-limit")),
            remaining=_int(h.get("x-ratelimit-remaining")),
            reset=_float(h.get("x-ratelimit-reset")),
            monthly_limit=_int(h.get("x-monthly-limit")),
            monthly_remaining=_int(h.get("x-monthly-remaining")),
        )

    @property
    def empty(self) -> bool:
        return self.limit is None and self.remaining is None and self.monthly_remaining is None


def _int(value: str | bytes | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | bytes | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope(response: httpx.Response) -> tuple[str | None, str, str | None, str | None]:
    """(errorType, message, field, fieldId) of the first error, tolerating a non-JSON or empty body."""
    try:
        item = response.json()["errors"][0]
        return item.get("errorType"), str(item.get("message") or ""), item.get("field"), item.get("fieldId")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None, "", None, None


def _auth_error(
    status: int, error_type: str | None, message: str, endpoint: str, key: str, base_url: str
) -> AuthError:
    """The one-line ``AuthError`` for a 401/403: which check failed, the scope and action, and what to fix.

    ``key`` describes the key (``Secret.describe``: where it came from), never its value.
    """
    answer = f"{status} {error_type or 'error'}" + (f": {message}" if message else "")
    where = f" at {base_url}" if base_url else ""
    needed, doing = ENDPOINT_SCOPES.get(endpoint, (None, None))
    action = doing or (f"{endpoint}" if endpoint else "this request")
    prefix = f"{endpoint}: " if endpoint else ""
    kw: dict[str, Any] = {"status": status, "error_type": error_type}
    named = _SCOPE.search(message)
    if named is not None:  # the key is known; it lacks a scope (403 as documented, or a 401 naming one)
        scope = named.group(1)
        return AuthError(
            f"{prefix}{key} is valid but lacks the {scope} scope, which {action} needs ({answer}); "
            f"add {scope} to the key under {KEYS_PAGE} or use a key that has it",
            **kw,
        )
    if status == 401:
        if "expired" in message.lower():
            why = "it has expired"
            fix = f"create a new key under {KEYS_PAGE}"
        else:
            why = "the account does not know it (mistyped, revoked, deactivated, or another account's key)"
            fix = f"copy the key and the base URL from the same account's {KEYS_PAGE}"
        return AuthError(f"{prefix}{key} was refused{where} ({answer}): {why}; {fix}", **kw)
    checks = f"that the key has the {needed} scope {action} needs and " if needed else ""
    return AuthError(
        f"{prefix}{key} was accepted but the account refused {action} ({answer}): check "
        f"{checks}that the account is in good standing with API access",
        **kw,
    )


def classify(
    response: httpx.Response, *, now: float, endpoint: str = "", key: str = "the API key", base_url: str = ""
) -> MigrationErrorT | None:
    """The exception a response stands for (``None`` for 2xx). Decides on status *and* ``errorType``.

    ``key`` (``Secret.describe()``) and ``base_url`` only word a 401/403: which key, sent where.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    error_type, message, field, field_id = _envelope(response)
    where = f"{endpoint}: " if endpoint else ""
    kw: dict[str, Any] = {"status": status, "error_type": error_type}
    detail = f"{status} {error_type or 'error'}" + (f": {message}" if message else "")
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
        monthly_left = _int(response.headers.get("x-monthly-remaining"))
        resume = utc_iso(now + retry_after) if retry_after is not None else None
        # "monthly" only when the server says so: a long Retry-After alone is not a spent month
        if "monthly" in message.lower() or monthly_left == 0:
            when = f"; resets at {resume}" if resume else ""
            return QuotaExhausted(f"monthly API quota exhausted{when}", resume_after=resume, wait=retry_after)
        if retry_after is not None and retry_after > HOUR:
            left = f"; {monthly_left:,} requests are left this month" if monthly_left is not None else ""
            return Paused(
                f"{where}rate limited ({detail}) with Retry-After {retry_after:,.0f}s, longer than an hourly "
                f"window; run again after {resume}{left}",
                resume_after=resume,
            )
        return RetriableLoadError(f"{where}hourly rate limit ({detail})", retry_after=retry_after, **kw)
    if status >= 500:
        return RetriableLoadError(
            f"{where}server error {detail}",
            retry_after=retry_after_seconds(response.headers.get("retry-after"), now),
            **kw,
        )
    if status in (401, 403):
        return _auth_error(status, error_type, message, endpoint, key, base_url)
    if status == 404:
        return NotFound(f"{where}{detail}", **kw)
    if error_type == "DuplicateFieldError":
        return DuplicateKey(f"{where}{detail}", **kw)
    if error_type == "ConcurrencyError":
        return StaleVersion(f"{where}{detail}", **kw)
    if status == 400:
        return InvalidRequest(f"{where}{detail}", field=field, field_id=field_id, **kw)
    return FatalLoadError(f"{where}unexpected answer {detail}", **kw)


MigrationErrorT = LoadError | Paused


class PacerLike(Protocol):
    def before_request(self) -> None: ...

    def observe(self, state: RateState) -> None: ...

    def throttled(self, retry_after: float | None, attempt: int) -> None: ...


class BenchmarkClient:
    """Sends one logical request with retries; parses JSON; counts every attempt by endpoint template.

    The one class that sends HTTP to Benchmark: resolution, ``mappings plan``, the load, verify and the dry
    run all go through it, so every request is paced, retried, counted and scrubbed the same way and the
    API key is revealed in one place (``_header``).

    ``on_request("METHOD /path/template")`` is called before every attempt that goes on the wire, so the ledger's request
    counts equal the server's. ``pacer`` is asked before every attempt and told every response's headers.
    Network errors and 5xx are waited out by ``retrier`` (``etl.retry``): ``max_attempts`` in a row, or,
    with ``patience.max_outage`` seconds, an outage of up to that long (its start/still/end lines go to
    ``patience.on_event``); with ``patience.wait_for_quota`` a spent monthly quota is slept through.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        pacer: PacerLike | None = None,
        on_request: Callable[[str], None] | None = None,
        timeout: float = 30.0,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_throttles: int = 12,
        patience: Patience | None = None,
    ) -> None:
        self._key = api_key
        self._own_http = http is None
        self.http = http or httpx.Client(transport=transport, timeout=timeout, trust_env=False)
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.pacer = pacer
        self.on_request = on_request
        self.max_attempts = max_attempts
        self.backoff_policy = Backoff(backoff_base, backoff_cap)
        self.backoff_cap = backoff_cap
        self.max_throttles = max_throttles
        self.patience = patience or Patience()
        self.retrier = Retrier(
            self.clock,
            self.rng,
            backoff=self.backoff_policy,
            max_attempts=max_attempts,
            max_outage=self.patience.max_outage,
            retry_after_cap=backoff_cap,
            what=f"the Benchmark API at {self.base_url}",
            on_event=self.patience.on_event,
            on_outage=self.patience.on_outage,
        )
        self.rate = RateState()
        self.ambiguous = False  # did an attempt of the last request go out and come back without an answer

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BenchmarkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _header(self) -> dict[str, str]:
        """The only place the key is revealed: it goes in ``X-API-Key`` and nowhere else."""
        return {"X-API-Key": self._key.reveal()}

    def _scrub(self, text: str) -> str:
        key = self._header()["X-API-Key"]
        return text.replace(key, "***") if key else text

    def backoff(self, attempt: int) -> float:
        """Equal-jitter capped exponential backoff for attempt ``attempt`` (1-based)."""
        return self.backoff_policy.delay(attempt, self.rng)

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        recheck: Callable[[], Any] | None = None,
    ) -> Any:
        """Send until a definitive answer; return the decoded JSON body (``None`` when empty).

        ``recheck`` makes a write that is not safe to repeat (a list POST) safe: before it is sent again
        after an ambiguous attempt (sent, no answer), ``recheck()`` looks for its effect and, when it
        returns something other than ``None``, that is the answer and nothing is re-sent.
        """
        self.ambiguous = False
        throttles = quota_waits = failures = 0
        while True:
            if recheck is not None and self.ambiguous:
                found = recheck()  # its own requests reset ``ambiguous``; this one stays ambiguous
                self.ambiguous = True
                if found is not None:
                    return found
            if self.pacer is not None:
                self.pacer.before_request()
            if self.on_request is not None:
                self.on_request(f"{method} {endpoint}")
            try:
                response = self.http.request(method, self.base_url + path, json=json, headers=self._header())
            except httpx.UnsupportedProtocol as exc:  # a request we must not send (the dry run's guard)
                raise FatalLoadError(
                    self._scrub(f"{endpoint}: {exc}"), method=method, path=endpoint
                ) from None
            except httpx.TransportError as exc:
                # A connect failure never reached the server; anything later may have been applied.
                if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and method != "GET":
                    self.ambiguous = True
                problem = self._scrub(f"{endpoint}: network error ({type(exc).__name__})")
                failures += 1
                if not self._again(failures, f"network error ({type(exc).__name__})", None):
                    raise RetriableLoadError(problem, method=method, path=endpoint) from None
                continue
            state = RateState.from_headers(response.headers)
            if not state.empty:
                self.rate = state
                if self.pacer is not None:
                    self.pacer.observe(state)
            exc_or_none = classify(
                response,
                now=self.clock.now(),
                endpoint=f"{method} {endpoint}",
                key=self._key.describe(),
                base_url=self.base_url,
            )
            if exc_or_none is None or not (
                isinstance(exc_or_none, RetriableLoadError) and exc_or_none.status != 429
            ):
                self.retrier.succeeded()  # an answer that is not a server failure ends an outage
            if exc_or_none is None:
                try:
                    return response.json() if response.content else None
                except ValueError:
                    raise FatalLoadError(
                        f"{method} {endpoint}: answer {response.status_code} is not JSON",
                        status=response.status_code,
                        method=method,
                        path=endpoint,
                    ) from None
            exc_or_none.args = (self._scrub(str(exc_or_none)),)
            if isinstance(exc_or_none, QuotaExhausted):
                quota_waits += 1
                if quota_waits > MAX_QUOTA_WAITS:  # the reset came and went and the quota is still spent
                    raise exc_or_none
                self._wait_for_quota(exc_or_none)  # returns only when the quota has reset
                continue
            if isinstance(exc_or_none, DuplicateKey):
                exc_or_none.ambiguous = self.ambiguous
            if isinstance(exc_or_none, RetriableLoadError):
                if exc_or_none.status == 429:
                    throttles += 1
                    if throttles > self.max_throttles or self.pacer is None:
                        raise exc_or_none
                    self.pacer.throttled(exc_or_none.retry_after, throttles)
                    continue
                if method != "GET":
                    self.ambiguous = True  # a 5xx after a write may still have applied it
                failures += 1
                if not self._again(failures, f"server error {exc_or_none.status}", exc_or_none.retry_after):
                    raise exc_or_none
                continue
            raise exc_or_none

    def _again(self, failures: int, problem: str, retry_after: float | None) -> bool:
        """After this request's ``failures``-th transient failure: wait and say True, or say False to give up.

        The retrier's streak spans requests (an outage is one outage); but when something answered in
        between (a recheck's read), the server is up and this request alone keeps failing: it gets the
        short retries only, so a write the server keeps refusing cannot loop for the whole --max-outage.
        """
        if failures >= self.max_attempts and self.retrier.streak + 1 < failures:
            return False
        return self.retrier.failed(problem, retry_after)

    def _wait_for_quota(self, exc: QuotaExhausted) -> None:
        """Sleep until the monthly reset when ``--wait-for-quota`` allows it; else raise ``exc`` (exit 75)."""
        p = self.patience
        if not p.wait_for_quota:
            raise exc
        if exc.wait is None or exc.wait > p.max_wait:
            why = (
                "the server gave no reset time" if exc.wait is None else f"that is {duration(exc.wait)} away"
            )
            raise QuotaExhausted(
                f"{exc}; not waiting: {why}, more than --max-wait {duration(p.max_wait)}",
                resume_after=exc.resume_after,
                wait=exc.wait,
            ) from None
        p.say(
            f"monthly API quota exhausted: waiting {duration(exc.wait)} for the reset; resuming at "
            f"{exc.resume_after} (UTC) (--wait-for-quota)"
        )
        self.clock.sleep(exc.wait + 1.0)  # a second past the reset: the new period has surely begun
        p.say("monthly API quota reset: resuming")

    # --- the operations the loader uses -------------------------------------------------------------
    def get_structure(self, structure_id: str) -> dict[str, Any]:
        return self.request(
            "GET",
            f"/api/contact-structure/{structure_id}",
            endpoint="/api/contact-structure/{contactStructureId}",
        )

    def all_lists(self, structure_id: str) -> list[dict[str, Any]]:
        return self.request(
            "GET",
            f"/api/contact-structure/{structure_id}/lists/all",
            endpoint="/api/contact-structure/{contactStructureId}/lists/all",
        )

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/contact/search", endpoint="/api/contact/search", json=body)

    def export(self, body: dict[str, Any], *, timeout: float) -> tuple[str, bytes]:
        """``POST /api/contact/export`` once: ``(content type, body bytes)`` of a 2xx answer.

        Unlike every other call it is not retried on a 5xx or a network error (a timeout included): the
        export is an optimisation whose body and columns are undocumented, and its caller falls back to
        paging on any doubt rather than spend budget insisting. Only an hourly 429 is waited out, as for
        any request; the other answers raise what ``classify`` says (a 404 → ``NotFound``, …).
        """
        endpoint = "/api/contact/export"
        throttles = 0
        while True:
            if self.pacer is not None:
                self.pacer.before_request()
            if self.on_request is not None:
                self.on_request(f"POST {endpoint}")
            try:
                response = self.http.request(
                    "POST", self.base_url + endpoint, json=body, headers=self._header(), timeout=timeout
                )
            except httpx.TransportError as exc:
                raise RetriableLoadError(
                    self._scrub(f"POST {endpoint}: no answer ({type(exc).__name__})"),
                    method="POST",
                    path=endpoint,
                ) from None
            state = RateState.from_headers(response.headers)
            if not state.empty:
                self.rate = state
                if self.pacer is not None:
                    self.pacer.observe(state)
            problem = classify(response, now=self.clock.now(), endpoint=f"POST {endpoint}")
            if problem is None:
                return response.headers.get("content-type", ""), response.content
            problem.args = (self._scrub(str(problem)),)
            if isinstance(problem, RetriableLoadError) and problem.status == 429 and self.pacer is not None:
                throttles += 1
                if throttles <= self.max_throttles:
                    self.pacer.throttled(problem.retry_after, throttles)
                    continue
            raise problem

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/contact", endpoint="/api/contact", json=body)

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/contact/{contact_id}", endpoint="/api/contact/{contactId}")

    def put_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PUT", f"/api/contact/{contact_id}", endpoint="/api/contact/{contactId}", json=body
        )

    def delete_contact(self, contact_id: str) -> dict[str, Any] | None:
        """``DELETE /api/contact/{id}`` (undo): 200 with the deleted contact; ``NotFound`` if it is gone."""
        return self.request("DELETE", f"/api/contact/{contact_id}", endpoint="/api/contact/{contactId}")

    def patch_status(self, contact_id: str, status: dict[str, str]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            f"/api/contact/{contact_id}",
            endpoint="/api/contact/{contactId}",
            json={"status": status},
        )
