"""One resolver for the state dir and the report dir: the precedence every command shares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etl.commands.common import state_path
from etl.config import target_from_env
from etl.paths import report_dir, reports_root, state_dir


def test_state_dir_flag_then_env_then_default() -> None:
    env = {"BME_STATE_DIR": "/tmp/from-env"}
    assert state_dir("/tmp/flag", env) == Path("/tmp/flag")
    assert state_dir(None, env) == Path("/tmp/from-env")
    assert state_dir(None, {"BME_STATE_DIR": ""}) == Path(".etl")
    assert state_dir(None, {}) == Path(".etl")


def test_the_cli_and_the_target_resolve_the_same_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BME_STATE_DIR", "/tmp/shared-state")
    monkeypatch.delenv("BME_API_KEY", raising=False)
    monkeypatch.delenv("BME_API_KEY_FILE", raising=False)
    monkeypatch.delenv("BME_BASE_URL", raising=False)
    assert state_path(None) == target_from_env(os.environ).state_dir == Path("/tmp/shared-state")


def test_report_dir_is_the_flag_or_a_run_dir_under_reports() -> None:
    assert report_dir(None, "abc123") == Path("reports") / "abc123"
    assert report_dir(Path("/tmp/out"), "abc123") == Path("/tmp/out")
    assert reports_root(None) == Path("reports")
    assert reports_root(Path("/tmp/out")) == Path("/tmp/out")
