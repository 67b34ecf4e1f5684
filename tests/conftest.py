"""Shared fixtures. Servers bind ephemeral loopback ports; nothing here touches the real network.

Stage-specific fixtures live in ``tests/fixtures/`` and are registered below.
"""

from __future__ import annotations

import os

import pytest

from etl.clock import FakeClock

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.legacy"]


def pytest_configure(config: pytest.Config) -> None:
    """Run every test in a pipe's environment, whoever starts pytest: pytest-xdist's workers are given
    ``COLUMNS=80``/``LINES=24``, and the CLI wraps its tables to ``COLUMNS`` (a test that sets a width
    passes its own)."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
