"""Seeded fault injection: 500s, lost responses after an applied write, added latency; scripted answers
per route (``Knobs.script``) and an outage window (``Knobs.outage_after``/``outage_seconds``) on the clock.

The random source is injected (``random.Random(seed)``) so a failing reliability test can be replayed with
the same sequence of faults. Decisions are drawn under the app's lock, in request order.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from etl.clock import Clock
from etl.sandbox.http import Response
from etl.sandbox.knobs import Knobs


class Faults:
    def __init__(self, knobs: Knobs, rng: random.Random, clock: Clock) -> None:
        self.knobs = knobs
        self.rng = rng
        self.clock = clock
        self._lock = threading.Lock()
        self._scripted: Counter[str] = Counter()  # requests of each scripted route so far
        self._seen = 0  # authenticated requests so far (for ``outage_after``)
        self.outage_started: float | None = None

    def injected(self, route: str) -> Response | None:
        """The answer a script or the outage window gives this request instead of the route's, or None."""
        k = self.knobs
        with self._lock:
            self._seen += 1
            now = self.clock.now()
            if k.outage_after is not None and self.outage_started is None and self._seen > k.outage_after:
                self.outage_started = now
            if self.outage_started is not None and now < self.outage_started + k.outage_seconds:
                return Response.dropped() if k.outage_status == 0 else _error(k.outage_status, None)
            answers = k.script.get(route, ())
            n = self._scripted[route]
            if n >= len(answers):
                return None
            self._scripted[route] += 1
        status, _, after = answers[n].partition(":")
        if status == "drop":
            return Response.dropped()
        return _error(int(status), int(after) if after else (1 if status == "429" else None))

    @property
    def active(self) -> bool:
        k = self.knobs
        return k.fail_rate > 0 or k.lost_response_rate > 0 or k.latency_ms > 0

    def delay(self) -> None:
        """Sleep on the injected clock (a ``FakeClock`` records the wait instead of taking it)."""
        if self.knobs.latency_ms > 0:
            self.clock.sleep(self.knobs.latency_ms / 1000.0)

    def should_fail(self) -> bool:
        return self.knobs.fail_rate > 0 and self.rng.random() < self.knobs.fail_rate

    def should_drop(self) -> bool:
        return self.knobs.lost_response_rate > 0 and self.rng.random() < self.knobs.lost_response_rate

    @staticmethod
    def server_error() -> Response:
        return Response.json(
            500,
            {
                "errors": [
                    {"errorType": "InternalServerError", "message": "Internal server error (injected fault)"}
                ]
            },
        )


_KIND = {429: "TooManyRequestsError", 500: "InternalServerError"}


def _error(status: int, retry_after: int | None) -> Response:
    """A scripted or outage answer in the Benchmark envelope (``Retry-After`` when given)."""
    message = "Rate limit exceeded." if status == 429 else "Service unavailable (injected fault)"
    kind = _KIND.get(status, "ServiceUnavailable")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response.json(status, {"errors": [{"errorType": kind, "message": message}]}, headers)
