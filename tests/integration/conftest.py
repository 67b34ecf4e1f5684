"""The CLI fixture of the end-to-end tests, for integration tests that drive a command over real HTTP."""

from tests.e2e.conftest import run  # noqa: F401
