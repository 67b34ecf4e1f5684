"""HTTP for the legacy-API extractor: one listing page (or one contact by id) per call, with the retries
a flaky API needs.

5xx, 429 and network errors are retried with exponential backoff and equal jitter, slept on the injected
clock; a ``Retry-After`` (seconds or HTTP date) replaces the backoff. 401/403 raise ``AuthError`` at once;
any other status, a redirect (followed redirects could carry the Bearer token elsewhere) or a body that is
not a list of objects raise ``InputError`` naming the listing URL. Messages never hold the token.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from etl.clock import Clock
from etl.config import Secret
from etl.errors import AuthError, InputError

ENV_LEGACY_TOKEN = "LEGACY_API_TOKEN"
CONTACTS_PATH = "/api/v1/contacts"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 1.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 600.0  # a server asking for more than ten minutes is treated as asking for ten

log = logging.getLogger(__name__)

Page = tuple[list[dict[str, Any]], int | None, int | None]  # (records, total if known, server's limit)


class PageFetcher:
    """GETs one page with retries; counts requests. Messages name the URL and offset, never the token."""

    def __init__(
        self,
        client: httpx.Client | None,
        token: Secret,
        source: str,
        clock: Clock,
        rng: random.Random,
        max_retries: int,
    ) -> None:
        self._own = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=False)
        self._token, self._source, self._clock, self._rng = token, source, clock, rng
        self._max_retries = max_retries
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        if self._own:
            self._client.close()

    def page(self, params: Mapping[str, str | int], *, saved_pages: int) -> Page:
        """(records, total or None, the server's limit or None) for one listing request."""
        offset = int(params["offset"])
        response = self._get(self._source, params, f"the listing at offset {offset}", saved_pages=saved_pages)
        return self._parse(response, offset)

    def contact(self, contact_id: str, *, saved_pages: int) -> dict[str, Any] | None:
        """One contact by id (``GET …/contacts/:id``), or None when the platform no longer has it (404)."""
        url = f"{self._source}/{quote(contact_id, safe='')}"
        response = self._get(
            url, {}, f"the look-up of contact {contact_id}", saved_pages=saved_pages, missing_ok=True
        )
        if response.status_code == 404:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InputError(
                f"legacy API returned a contact that is not a JSON object for contact {contact_id}",
                path=self._source,
            )
        return body

    def _get(
        self,
        url: str,
        params: Mapping[str, str | int],
        where: str,
        *,
        saved_pages: int,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """The 200 (or, with ``missing_ok``, 404) response to one GET, after retries; see the module doc."""
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json"}
        for attempt in range(self._max_retries + 1):
            self.requests += 1
            retry_after: float | None = None
            try:
                response = self._client.get(url, params=dict(params), headers=headers)
            except httpx.TransportError as exc:
                problem = f"network error ({type(exc).__name__})"
            else:
                if response.status_code == 200 or (missing_ok and response.status_code == 404):
                    return response
                problem = f"HTTP {response.status_code}{_error_code(response)}"
                if response.status_code in (401, 403):
                    raise AuthError(
                        f"legacy API rejected the token ({response.status_code}): check "
                        f"{ENV_LEGACY_TOKEN} for {self._source}",
                        status=response.status_code,
                        method="GET",
                        path=CONTACTS_PATH,
                    )
                if response.status_code not in RETRY_STATUSES:
                    raise InputError(
                        f"legacy API refused {where} with {problem}{_error_message(response)}",
                        path=self._source,
                    )
                retry_after = _retry_after(response, self._clock)
            if attempt == self._max_retries:
                break
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            log.warning(
                "legacy API: %s on %s; retry %d/%d in %.1fs",
                problem,
                where,
                attempt + 1,
                self._max_retries,
                delay,
            )
            self.retries += 1
            self._clock.sleep(delay)
        raise InputError(
            f"legacy API still failing after {self._max_retries} retries ({problem}) on {where}; "
            f"{saved_pages} page(s) are saved, run again to resume",
            path=self._source,
        )

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential delay fixed, half random, so clients do not retry in step."""
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _parse(self, response: httpx.Response, offset: int) -> Page:
        try:
            body = response.json()
        except ValueError:
            raise InputError(
                f"legacy API returned a body that is not JSON at offset {offset}", path=self._source
            ) from None
        total = limit = None
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            items = body["data"]
            total = body.get("total") if isinstance(body.get("total"), int) else None
            limit = body.get("limit") if isinstance(body.get("limit"), int) and body["limit"] > 0 else None
        elif isinstance(body, list):
            items = body
        else:
            raise InputError(
                f'legacy API returned neither a list nor {{"data": [...]}} at offset {offset}',
                path=self._source,
            )
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(
                    "legacy API returned a record that is not a JSON object",
                    path=self._source,
                    line=offset + i + 1,
                )
        return items, total, limit


def _error_code(response: httpx.Response) -> str:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f" {code}" if isinstance(code, str) else ""


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {' '.join(str(message).split())[:200]}" if message else ""


def _retry_after(response: httpx.Response, clock: Clock) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - clock.now()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
