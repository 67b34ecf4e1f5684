"""Shared fixtures. Servers bind ephemeral loopback ports; nothing here touches the real network.

Stage-specific fixtures live in ``tests/fixtures/`` and are registered below.
"""

from __future__ import annotations

import pytest

from etl.clock import FakeClock

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.legacy"]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
