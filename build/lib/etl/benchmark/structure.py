"""The few Benchmark calls resolution makes, with the error taxonomy of ``etl.errors`` and a request count.

Given a ``BenchmarkClient`` (what ``migrate`` and ``mappings plan`` pass), every call is paced, counted and
retried like the load's: 5xx, network errors and hourly 429s are waited out, and a list POST whose answer
was lost is re-sent only after the lists were searched for it by name. Given a bare ``httpx.Client`` (tests,
benches) a call is sent once: a 429 or 5xx is a ``RetriableLoadError`` the caller reports. Either way a
401/403 is an ``AuthError`` naming the scope and any other 4xx a ``FatalLoadError`` with its ``errorType``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from etl.benchmark.client import BenchmarkClient
from etl.errors import AuthError, FatalLoadError, RecordRejected, RetriableLoadError

_IDS = re.compile(r"/(contact-structure|lists|contact)/([0-9a-f]{24})")
_TEMPLATE = {"contact-structure": "{structureId}", "lists": "{listId}", "contact": "{contactId}"}
_SCOPE_HINT = " (contact-structure changes need the contacts:write scope)"


def endpoint_template(path: str) -> str:
    """``/api/contact-structure/65f…/lists`` → ``/api/contact-structure/{structureId}/lists`` (the ledger's
    request counts are kept by template, like the server's)."""
    return _IDS.sub(lambda m: f"/{m.group(1)}/{_TEMPLATE[m.group(1)]}", path)


@dataclass
class StructureApi:
    """The few calls resolution needs, with the error taxonomy of etl.errors and a request counter."""

    client: httpx.Client | BenchmarkClient
    requests: int = 0
    _counting: int = 0  # calls in progress through a BenchmarkClient (rechecks nest)

    def call(
        self, method: str, path: str, body: Any = None, *, recheck: Callable[[], Any] | None = None
    ) -> Any:
        """One logical call; ``recheck`` (see ``BenchmarkClient.request``) guards a write unsafe to repeat."""
        if isinstance(self.client, BenchmarkClient):
            return self._call_retrying(self.client, method, path, body, recheck)
        self.requests += 1
        try:
            resp = (
                self.client.request(method, path, json=body)
                if body is not None
                else self.client.request(method, path)
            )
        except httpx.TransportError as exc:
            raise RetriableLoadError(
                f"{method} {path}: {type(exc).__name__}", method=method, path=path
            ) from None
        if resp.status_code < 300:
            return resp.json() if resp.content else None
        etype, msg = error_of(resp)
        code = resp.status_code
        text = f"{method} {path}: HTTP {code} {etype or ''} {msg}".rstrip()
        if code in (401, 403):
            raise AuthError(
                text + _SCOPE_HINT,
                status=code,
                error_type=etype,
                method=method,
                path=path,
            )
        if code == 429 or code >= 500:
            ra = resp.headers.get("Retry-After")
            raise RetriableLoadError(
                text,
                retry_after=float(ra) if ra and ra.isdigit() else None,
                status=code,
                error_type=etype,
                method=method,
                path=path,
            )
        raise FatalLoadError(text, status=code, error_type=etype, method=method, path=path)

    def _call_retrying(
        self,
        client: BenchmarkClient,
        method: str,
        path: str,
        body: Any,
        recheck: Callable[[], Any] | None,
    ) -> Any:
        count = client.on_request
        if not self._counting:  # a recheck's calls nest inside this one: count them once

            def counted(endpoint: str) -> None:
                self.requests += 1
                if count is not None:
                    count(endpoint)

            client.on_request = counted
        self._counting += 1
        try:
            return client.request(method, path, endpoint=endpoint_template(path), json=body, recheck=recheck)
        except AuthError as exc:
            raise AuthError(
                f"{exc}{_SCOPE_HINT}", status=exc.status, error_type=exc.error_type, method=method, path=path
            ) from None
        except RecordRejected as exc:  # 400/404 mean the same to resolution as to a bare client
            raise FatalLoadError(
                str(exc), status=exc.status, error_type=exc.error_type, method=method, path=path
            ) from None
        finally:
            self._counting -= 1
            client.on_request = count


def error_of(resp: httpx.Response) -> tuple[str | None, str]:
    try:
        err = resp.json()["errors"][0]
        return str(err.get("errorType") or "") or None, str(err.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError):
        return None, ""


def records(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        doc = doc.get("records", doc.get("data", []))
    return [d for d in doc or [] if isinstance(d, dict)]
