"""The CLI fixtures of the end-to-end tests, for the hostile-environment tests (broken state, full disks)."""

from tests.e2e.conftest import run  # noqa: F401
