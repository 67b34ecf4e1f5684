"""The few Benchmark calls resolution makes, with the error taxonomy of ``etl.errors`` and a request count.

Resolution runs once per run and costs 2-3 requests, so there is no pacing or retry here: a 429 or 5xx is a
``RetriableLoadError`` the caller reports ("try again later"), a 401/403 an ``AuthError`` naming the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from etl.errors import AuthError, FatalLoadError, RetriableLoadError


@dataclass
class StructureApi:
    """The few calls resolution needs, with the error taxonomy of etl.errors and a request counter."""

    client: httpx.Client
    requests: int = 0

    def call(self, method: str, path: str, body: Any = None) -> Any:
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
                text + " (contact-structure changes need the contacts:write scope)",
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
