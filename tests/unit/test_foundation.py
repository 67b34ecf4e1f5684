"""The shared foundation: config resolution, secrets, the CLI edge and the HTTP serving layer."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from etl import __version__
from etl.cli import cli
from etl.config import Secret, target_from_env
from etl.errors import ConfigError, InputError
from etl.sandbox.http import AppTransport, Request, Response, RunningServer


def test_secret_never_prints_itself() -> None:
    s = Secret("bme_supersecret")
    assert "bme_supersecret" not in repr(s)
    assert "bme_supersecret" not in f"{s} {[s]} {dict(k=s)}"
    assert s.reveal() == "bme_supersecret"


def test_no_key_means_embedded_sandbox(tmp_path) -> None:
    t = target_from_env({}, state_dir=tmp_path)
    assert t.embedded and t.api_key is None and t.sandbox_db == tmp_path / "sandbox.db"


def test_key_requires_base_url() -> None:
    with pytest.raises(ConfigError, match="BME_BASE_URL"):
        target_from_env({"BME_API_KEY": "bme_x"})


def test_key_from_env_or_file(tmp_path) -> None:
    f = tmp_path / "key"
    f.write_text("bme_fromfile\n")
    t = target_from_env({"BME_API_KEY_FILE": str(f), "BME_BASE_URL": "https://api.example/"})
    assert t.api_key == Secret("bme_fromfile") and t.base_url == "https://api.example"
    t = target_from_env({"BME_API_KEY": "bme_env", "BME_BASE_URL": "https://api.example"})
    assert t.api_key == Secret("bme_env") and not t.embedded


def test_missing_key_file_is_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file given by --api-key-file"):
        target_from_env({"BME_API_KEY_FILE": str(tmp_path / "nope")})


def test_input_error_names_file_line_column() -> None:
    assert str(InputError("bad byte 0xff", path="a.csv", line=3, column=7)) == "a.csv:3:7: bad byte 0xff"


def test_version() -> None:
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output


class Echo:
    def handle(self, request: Request) -> Response:
        if request.path == "/drop":
            return Response.dropped()
        return Response.json(
            200,
            {
                "method": request.method,
                "path": request.path,
                "q": request.query_one("x"),
                "body": request.json(),
            },
        )


def test_real_server_and_transport_agree() -> None:
    with (
        RunningServer(Echo()) as server,
        httpx.Client(base_url=server.url) as real,
        httpx.Client(base_url="http://app", transport=AppTransport(Echo())) as inproc,
    ):
        for client in (real, inproc):
            r = client.post("/p?x=1", json={"a": 1})
            assert r.json() == {"method": "POST", "path": "/p", "q": "1", "body": {"a": 1}}
            with pytest.raises(httpx.TransportError):
                client.get("/drop")
