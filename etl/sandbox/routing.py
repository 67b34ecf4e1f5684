"""Route templates, matching, and the per-request context handed to route functions.

Templates are matched segment by segment in declaration order, so literal routes (``/lists/all``,
``/api/contact/search``) declared before parameter routes win, as docs/reference/benchmark-api.md §1 requires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from etl.sandbox.apierror import not_found, require_object_id, validation
from etl.sandbox.http import Request, Response
from etl.sandbox.knobs import Knobs
from etl.sandbox.store import ContactRow, Store, StructureRow

# Page numbers and sizes (query or body) above this are a 400: offsets stay far inside SQLite's 64 bits.
MAX_PAGING_INT = 2**31 - 1


@dataclass
class Ctx:
    request: Request
    params: dict[str, str]
    store: Store
    knobs: Knobs
    now: float

    def body(self) -> Any:
        try:
            return self.request.json()
        except ValueError as exc:  # BadJson: malformed, not UTF-8, too deep, huge numbers, lone surrogates
            raise validation(f"Request body must be valid JSON: {exc}") from None

    def structure(self) -> StructureRow:
        """The structure named by the path's ``contactStructureId``: a 400 if malformed, a 404 if unknown."""
        sid = require_object_id(self.params["contactStructureId"], "contactStructureId")
        s = self.store.structure(sid)
        if s is None:
            raise not_found("Contact structure", sid)
        return s

    def contact(self) -> ContactRow:
        """The contact named by the path's ``contactId``: a 400 if malformed, a 404 if unknown."""
        cid = require_object_id(self.params["contactId"], "contactId")
        row = self.store.get_contact(cid)
        if row is None:
            raise not_found("Contact", cid)
        return row

    def body_object(self) -> dict[str, Any]:
        body = self.body()
        if not isinstance(body, dict):
            raise validation("Request body must be a JSON object")
        return body


Handler = Callable[[Ctx], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    scope: str
    write: bool  # a write whose response the fault injector may lose after applying it

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, segments: Sequence[str]) -> dict[str, str] | None:
        parts = self.template.strip("/").split("/")
        if method != self.method or len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, seg in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not seg:
                    return None
                params[part[1:-1]] = seg
            elif part != seg:
                return None
        return params


def find_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    segments = path.strip("/").split("/")
    for route in routes:
        params = route.match(method, segments)
        if params is not None:
            return route, params
    return None
