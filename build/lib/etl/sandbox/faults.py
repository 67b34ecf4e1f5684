"""Seeded fault injection: 500s, lost responses after an applied write, and added latency.

The random source is injected (``random.Random(seed)``) so a failing reliability test can be replayed with
the same sequence of faults. Decisions are drawn under the app's lock, in request order.
"""

from __future__ import annotations

import random

from etl.clock import Clock
from etl.sandbox.http import Response
from etl.sandbox.knobs import Knobs


class Faults:
    def __init__(self, knobs: Knobs, rng: random.Random, clock: Clock) -> None:
        self.knobs = knobs
        self.rng = rng
        self.clock = clock

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
