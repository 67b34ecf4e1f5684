"""The hostile suite drives the CLI like the end-to-end tests: share their fixtures."""

from tests.e2e.conftest import run  # noqa: F401
