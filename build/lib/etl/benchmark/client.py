"""The Benchmark HTTP client: one place that knows what a response means and when to try again.

Policy, in one sentence per case (``classify`` is the single function that decides):

- 2xx → fine; every response's rate headers are parsed into a ``RateState`` and handed to the pacer.
- 5xx and network errors → ``RetriableLoadError``; retried with capped exponential backoff + jitter.
- 429 hourly → retriable after ``Retry-After`` (the pacer waits); 429 monthly → ``Paused`` with the UTC reset.
- 401/403 → ``AuthError`` naming the missing scope; never retried.
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
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from etl.clock import Clock, SystemClock
from etl.config import Secret
from etl.errors import AuthError, FatalLoadError, LoadError, Paused, RecordRejected, RetriableLoadError

HOUR = 3600.0
_SCOPE = re.compile(r"scope:?\s*([a-z]+:[a-z]+)", re.IGNORECASE)


class DuplicateKey(RecordRejected):
    """400 ``DuplicateFieldError``: the key already exists in the structure (maybe from our own lost create)."""

    ambiguous: bool = False  # set by the client: an earlier attempt of the same request may have applied


class StaleVersion(RecordRejected):
    """400 ``ConcurrencyError``: the ``__v`` we sent is stale; re-GET and try once more."""


class InvalidRequest(RecordRejected):
    """400 ``ValidationError``; ``field`` names the offending input when the server says so."""

    def __init__(
        self, message: str, *, field: str | None = None, field_id: str | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.field = field
        self.field_id = field_id


class NotFound(RecordRejected):
    """404 ``RecordNotFound``."""


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


def _retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as delta-seconds or as an HTTP date (RFC 9110), in seconds from ``now``."""
    seconds = _float(value)
    if seconds is not None or value is None:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
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


def classify(response: httpx.Response, *, now: float, endpoint: str = "") -> MigrationErrorT | None:
    """The exception a response stands for (``None`` for 2xx). Decides on status *and* ``errorType``."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    error_type, message, field, field_id = _envelope(response)
    where = f"{endpoint}: " if endpoint else ""
    kw: dict[str, Any] = {"status": status, "error_type": error_type}
    detail = f"{status} {error_type or 'error'}" + (f": {message}" if message else "")
    if status == 429:
        retry_after = _retry_after(response.headers.get("retry-after"), now)
        monthly_left = _int(response.headers.get("x-monthly-remaining"))
        resume = utc_iso(now + retry_after) if retry_after is not None else None
        # "monthly" only when the server says so: a long Retry-After alone is not a spent month
        if "monthly" in message.lower() or monthly_left == 0:
            when = f"; resets at {resume}" if resume else ""
            return Paused(f"monthly API quota exhausted{when}", resume_after=resume)
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
            retry_after=_retry_after(response.headers.get("retry-after"), now),
            **kw,
        )
    if status == 401:
        return AuthError(
            f"{where}the API key was refused ({detail}); check BME_API_KEY and BME_BASE_URL", **kw
        )
    if status == 403:
        match = _SCOPE.search(message)
        scope = f"the key lacks scope {match.group(1)}" if match else "access denied"
        return AuthError(f"{where}{scope} ({detail})", **kw)
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

    ``on_request("METHOD /path/template")`` is called before every attempt that goes on the wire, so the ledger's request
    counts equal the server's. ``pacer`` is asked before every attempt and told every response's headers.
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
    ) -> None:
        self._key = api_key
        self._own_http = http is None
        self.http = http or httpx.Client(
            transport=transport, timeout=timeout, trust_env=False, headers={"X-API-Key": api_key.reveal()}
        )
        # an injected client gets the key per request; our own carries it (cheaper than merging each time)
        self._per_request = None if self._own_http else {"X-API-Key": api_key.reveal()}
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.pacer = pacer
        self.on_request = on_request
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_throttles = max_throttles
        self.rate = RateState()
        self.ambiguous = False  # did an attempt of the last request go out and come back without an answer

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BenchmarkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        key = self._key.reveal()
        return text.replace(key, "***") if key else text

    def backoff(self, attempt: int) -> float:
        """Equal-jitter capped exponential backoff for attempt ``attempt`` (1-based)."""
        base = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return base / 2 + self.rng.random() * base / 2

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
        failures = throttles = 0
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
                response = self.http.request(
                    method, self.base_url + path, json=json, headers=self._per_request
                )
            except httpx.TransportError as exc:
                # A connect failure never reached the server; anything later may have been applied.
                if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and method != "GET":
                    self.ambiguous = True
                failures += 1
                error = RetriableLoadError(
                    self._scrub(f"{endpoint}: network error ({type(exc).__name__})"),
                    method=method,
                    path=endpoint,
                )
                if failures >= self.max_attempts:
                    raise error from None
                self.clock.sleep(self.backoff(failures))
                continue
            state = RateState.from_headers(response.headers)
            if not state.empty:
                self.rate = state
                if self.pacer is not None:
                    self.pacer.observe(state)
            exc_or_none = classify(response, now=self.clock.now(), endpoint=f"{method} {endpoint}")
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
                if failures >= self.max_attempts:
                    raise exc_or_none
                wait = self.backoff(failures)
                if exc_or_none.retry_after is not None:
                    wait = max(wait, min(exc_or_none.retry_after, self.backoff_cap))
                self.clock.sleep(wait)
                continue
            raise exc_or_none

    # --- the operations the loader uses -------------------------------------------------------------
    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/contact/search", endpoint="/api/contact/search", json=body)

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/contact", endpoint="/api/contact", json=body)

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/contact/{contact_id}", endpoint="/api/contact/{contactId}")

    def put_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PUT", f"/api/contact/{contact_id}", endpoint="/api/contact/{contactId}", json=body
        )

    def patch_status(self, contact_id: str, status: dict[str, str]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            f"/api/contact/{contact_id}",
            endpoint="/api/contact/{contactId}",
            json={"status": status},
        )
