"""``open_target`` (embedded sandbox vs configured account) and the ``bme-migrate sandbox`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from etl.commands.target import open_target
from etl.config import Secret, TargetSettings, target_from_env
from etl.errors import ConfigError
from etl.sandbox.knobs import Knobs
from tests.fixtures.sandbox import client_for, default_structure

BME = Path(sys.executable).parent / "bme-migrate"


def test_embedded_target_starts_a_sandbox_and_stops_it(tmp_path) -> None:
    settings = target_from_env({}, state_dir=tmp_path / "state")
    lines: list[str] = []
    with open_target(settings, lines.append) as (url, key):
        assert isinstance(key, Secret) and key.reveal() == "bme_sandbox_key"
        r = httpx.get(url + "/api/contact-structure", headers={"X-API-Key": key.reveal()})
        assert r.status_code == 200 and r.json()[0]["label"] == "Default Contacts"
    assert len(lines) == 1
    assert lines[0].startswith(f"No BME_API_KEY set: migrating into the embedded local sandbox at {url}")
    assert str(tmp_path / "state" / "sandbox.db") in lines[0] and "BME_BASE_URL" in lines[0]
    assert (tmp_path / "state" / "sandbox.db").exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/api/contact-structure", timeout=2)


def test_embedded_target_keeps_data_between_runs_and_takes_knobs(tmp_path) -> None:
    settings = target_from_env({}, state_dir=tmp_path)
    with open_target(settings, lambda _: None) as (url, key):
        sid = httpx.get(url + "/api/contact-structure", headers={"X-API-Key": key.reveal()}).json()[0]["_id"]
        r = httpx.post(
            url + "/api/contact",
            headers={"X-API-Key": key.reveal()},
            json={"key": "a@example.com", "contactStructureId": sid},
        )
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "1000000"  # a rehearsal is not paced like an account
    with open_target(settings, lambda _: None, knobs=Knobs(hourly_limit=7)) as (url, key):
        r = httpx.get(url + "/api/contact", headers={"X-API-Key": key.reveal()})
        assert [c["key"] for c in r.json()] == ["a@example.com"]
        assert r.headers["X-RateLimit-Limit"] == "7"


def test_configured_target_is_passed_through_without_a_sandbox(tmp_path) -> None:
    settings = target_from_env(
        {"BME_API_KEY": "bme_live", "BME_BASE_URL": "https://api.example"}, state_dir=tmp_path
    )
    lines: list[str] = []
    with open_target(settings, lines.append) as (url, key):
        assert url == "https://api.example" and key == Secret("bme_live")
    assert lines == [] and not (tmp_path / "sandbox.db").exists()


def test_incomplete_settings_are_a_config_error(tmp_path) -> None:
    settings = TargetSettings(base_url=None, api_key=Secret("k"), embedded=False, state_dir=tmp_path)
    with pytest.raises(ConfigError), open_target(settings, print):
        pass


def test_fixture_sandbox_api(sandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.api_key == "bme_sandbox_key"
    with client_for(sandbox) as c:
        assert default_structure(c)["label"] == "Default Contacts"
    assert sandbox.app.request_counts() == {"GET /api/contact-structure": 1}


def test_sandbox_command_serves_until_ctrl_c(tmp_path) -> None:
    knobs = tmp_path / "knobs.toml"
    knobs.write_text("monthly_limit = 500\n")
    db = tmp_path / "cli" / "sandbox.db"
    proc = subprocess.Popen(
        [str(BME), "sandbox", "--port", "0", "--db", str(db), "--knobs", str(knobs), "--hourly-limit", "9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # lines must flush anyway
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Benchmark sandbox listening on http://127.0.0.1:"), first
        url = first.split()[4]
        assert "bme_sandbox_key" in proc.stdout.readline()
        r = httpx.get(url + "/api/contact", headers={"X-API-Key": "bme_sandbox_key"})
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "9" and r.headers["X-Monthly-Limit"] == "500"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out and "Traceback" not in err
    assert db.exists()


def test_sandbox_command_rejects_bad_knobs(tmp_path) -> None:
    knobs = tmp_path / "knobs.json"
    knobs.write_text('{"key_match": "fuzzy"}')
    r = subprocess.run(
        [str(BME), "sandbox", "--knobs", str(knobs), "--db", ":memory:"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "key_match" in r.stderr and "Traceback" not in r.stderr
