"""CLI fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from etl.cli import main

# Everything the CLI reads from the environment: cleared before each call so the host's settings never leak in.
CLI_ENV = ("BME_API_KEY", "BME_API_KEY_FILE", "BME_BASE_URL", "BME_STATE_DIR", "LEGACY_API_TOKEN")


@dataclass
class Result:
    exit_code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The real entry point (``etl.cli.main``: error translation, exit codes) with a controlled environment."""

    def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
        for name in CLI_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exc:
            main(args)
        out, err = capsys.readouterr()
        return Result(int(exc.value.code or 0), out, err)

    return invoke
