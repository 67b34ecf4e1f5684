"""The few Benchmark calls resolution makes, with the error taxonomy of ``etl.errors`` and a request count.

Only through a ``BenchmarkClient`` (what ``migrate``, ``mappings plan`` and the dry run pass), so every call
is paced, counted, scrubbed and retried like the load's: 5xx, network errors and hourly 429s are waited out,
and a list POST whose answer was lost is re-sent only after the lists were searched for it by name. The
client classifies the answers (``classify``: one status mapping, a 401/403 naming the check that failed
and the scope the endpoint needs); here a 400/404 becomes a ``FatalLoadError`` with its ``errorType``
(resolution acts on them, never the loader).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from etl.benchmark.client import BenchmarkClient
from etl.errors import ConfigError, FatalLoadError, InvalidRequest, NotFound, RecordRejected

_IDS = re.compile(r"/(contact-structure|lists|contact)/([0-9a-f]{24})")
_TEMPLATE = {"contact-structure": "{structureId}", "lists": "{listId}", "contact": "{contactId}"}


def endpoint_template(path: str) -> str:
    """``/api/contact-structure/65f…/lists`` → ``/api/contact-structure/{structureId}/lists`` (the ledger's
    request counts are kept by template, like the server's)."""
    return _IDS.sub(lambda m: f"/{m.group(1)}/{_TEMPLATE[m.group(1)]}", path)


@dataclass
class StructureApi:
    """The few calls resolution needs, with the error taxonomy of etl.errors and a request counter."""

    client: BenchmarkClient
    requests: int = 0
    _counting: int = 0  # calls in progress (a recheck's calls nest inside the call they guard)

    def call(
        self, method: str, path: str, body: Any = None, *, recheck: Callable[[], Any] | None = None
    ) -> Any:
        """One logical call; ``recheck`` (see ``BenchmarkClient.request``) guards a write unsafe to repeat."""
        return self._call_retrying(self.client, method, path, body, recheck)

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
        except RecordRejected as exc:  # 400/404 mean the same to resolution as to a bare client
            raise FatalLoadError(
                str(exc), status=exc.status, error_type=exc.error_type, method=method, path=path
            ) from None
        finally:
            self._counting -= 1
            client.on_request = count


def records(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        doc = doc.get("records", doc.get("data", []))
    return [d for d in doc or [] if isinstance(d, dict)]


def structure_gone(
    exc: RecordRejected, run_id: str, structure_id: str, url: str, command: str
) -> ConfigError | None:
    """The error to raise when a search answered that ``run_id``'s contact structure is not in the target
    (another account, or the structure was deleted), else ``None``: verify and undo read a run back and
    must say which account they need, not pass on the API's 400/404."""
    if isinstance(exc, NotFound) or (
        isinstance(exc, InvalidRequest) and getattr(exc, "field", None) == "contactStructureId"
    ):
        return ConfigError(
            f"run {run_id}'s contact structure {structure_id} is not in the target at {url}: "
            f"{command} needs the account the run was loaded into"
        )
    return None
