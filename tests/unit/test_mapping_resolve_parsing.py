"""Resolution's parsing of API replies and its error taxonomy (httpx.MockTransport: parsing only; the
behaviour against a real server is in tests/integration/test_mapping_resolve.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from etl.benchmark.client import BenchmarkClient
from etl.clock import FakeClock
from etl.config import Secret
from etl.errors import FatalLoadError, RetriableLoadError
from etl.mapping.resolve import ResolveOptions, resolve_mapping
from etl.model import FieldColumn

STRUCTURE = {
    "_id": "s" * 24,
    "label": "Default",
    "keyName": "Email",
    "__v": 1,
    "fields": [{"_id": "f1", "label": "First Name", "dataType": "text", "predefinedField": "firstName"}],
    "tags": [],
}


def client(handler) -> BenchmarkClient:
    """The one Benchmark client over a mock transport, each request sent once (no retries to wait out)."""
    mock = httpx.MockTransport(handler)
    return BenchmarkClient("http://api", Secret("k"), transport=mock, clock=FakeClock(), max_attempts=1)


def test_paged_envelope_and_put_reply_without_document() -> None:
    """`{records: [...]}` is accepted for lists of structures; an empty PUT reply is followed by a read."""
    state = {"doc": dict(STRUCTURE)}
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(f"{req.method} {req.url.path}")
        if req.method == "PUT":
            new = json.loads(req.content)
            new["fields"] = [{**f, "_id": f.get("_id", "f2")} for f in new["fields"]]
            state["doc"] = {**state["doc"], **new, "__v": 2}
            return httpx.Response(204)
        if req.url.path.endswith("/api/contact-structure"):
            return httpx.Response(200, json={"total": 1, "records": [state["doc"]]})
        return httpx.Response(200, json=state["doc"])

    with client(handler) as c:
        res = resolve_mapping(c, [FieldColumn("Phone", "Phone")], options=ResolveOptions(create_fields=True))
    assert dict(res.mapping.field_ids) == {"Phone": "f2"}
    assert seen == [
        "GET /api/contact-structure",
        f"PUT /api/contact-structure/{'s' * 24}",
        f"GET /api/contact-structure/{'s' * 24}",
    ]
    assert res.requests == 3


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"Retry-After": "120"}, RetriableLoadError, 120.0),
        (503, {}, RetriableLoadError, None),
        (400, {}, FatalLoadError, None),
    ],
)
def test_http_errors_map_to_the_error_tree(
    status: int, headers: dict, kind: type, retry_after: float | None
) -> None:
    body = {"errors": [{"errorType": "TooManyRequestsError" if status == 429 else "X", "message": "nope"}]}
    with (
        client(lambda req: httpx.Response(status, json=body, headers=headers)) as c,
        pytest.raises(kind) as err,
    ):
        resolve_mapping(c, [])
    assert err.value.status == status and "nope" in str(err.value)
    if kind is RetriableLoadError:
        assert err.value.retry_after == retry_after


def test_network_failure_is_retriable() -> None:
    def boom(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    with client(boom) as c, pytest.raises(RetriableLoadError, match="ConnectError"):
        resolve_mapping(c, [])
