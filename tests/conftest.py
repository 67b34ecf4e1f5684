"""Shared fixtures. Servers bind ephemeral loopback ports; nothing here touches the real network."""

from __future__ import annotations

import pytest

from etl.clock import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
