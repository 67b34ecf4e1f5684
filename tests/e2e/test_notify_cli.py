"""``--notify URL`` and ``--notify-command CMD`` through the CLI: a local HTTP receiver gets one POST per run
end with the documented JSON; a receiver or command that fails changes nothing but a warning."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from etl.events import read_events
from tests.e2e.conftest import Run
from tests.load_support import people_csv

KEYS = {"text", "tool", "state", "run_id", "counts", "requests", "resume_after", "resume_command", "reason"}


class Receiver:
    """A webhook on loopback: records every POST (path, content type, JSON body), answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[tuple[str, str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((self.path, self.headers.get("Content-Type", ""), json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secretpath"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def remote(sandbox, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A non-embedded target, its key in a file: the notification must never carry it."""
    key_file = tmp_path / "key.txt"
    key_file.write_text(sandbox.api_key + "\n")
    return {"BME_BASE_URL": sandbox.url, "BME_API_KEY_FILE": str(key_file), "KEY": sandbox.api_key}


def _csv(tmp_path: Path, n: int) -> Path:
    return people_csv(tmp_path, n)


def _args(tmp_path: Path, n: int = 20) -> list[str]:
    return [
        "migrate",
        str(_csv(tmp_path, n)),
        "--state-dir",
        str(tmp_path / "s"),
        "--report-dir",
        str(tmp_path / "r"),
        "--create-fields",
    ]


def test_a_complete_run_posts_one_summary_a_webhook_takes_as_is(
    run: Run, receiver: Receiver, remote: dict[str, str], tmp_path: Path
) -> None:
    key = remote.pop("KEY")
    done = run([*_args(tmp_path), "--notify", receiver.url], remote)
    assert done.exit_code == 0, done.output
    assert len(receiver.posts) == 1
    path, content_type, doc = receiver.posts[0]
    assert path == "/services/T0/B0/secretpath" and content_type == "application/json"
    assert set(doc) >= KEYS and doc["tool"] == "bme-migrate"
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["state"] == "complete" and doc["run_id"] == report["run_id"]
    assert (
        doc["counts"]["rows_read"] == 20 and doc["counts"]["created"] == 20 and doc["counts"]["failed"] == 0
    )
    assert doc["requests"] == report["requests"]["total"] and doc["resume_after"] is None
    assert doc["report"] == str(tmp_path / "r" / "report.html") and doc["verify"].startswith("clean")
    # Slack/Teams show "text": one sentence with the state, the counts and where the report is
    assert (
        doc["text"].startswith(f"bme-migrate: run {doc['run_id']} COMPLETE") and "created 20" in doc["text"]
    )
    assert key not in json.dumps(doc)
    events, _ = read_events(tmp_path / "s" / "events.jsonl")
    assert events[-1]["event"] == "notified" and events[-1]["host"] == "127.0.0.1"

    again = run([*_args(tmp_path), "--notify", receiver.url], remote)  # one POST per run end, again
    assert again.exit_code == 0 and len(receiver.posts) == 2 and receiver.posts[1][2]["state"] == "complete"


def test_a_paused_run_says_how_to_resume(
    run: Run, receiver: Receiver, remote: dict[str, str], tmp_path: Path
) -> None:
    remote.pop("KEY")
    paused = run([*_args(tmp_path), "--max-requests", "8", "--notify", receiver.url], remote)
    assert paused.exit_code == 75, paused.output
    [(_, _, doc)] = receiver.posts
    assert doc["state"] == "paused" and "--max-requests 8 reached" in doc["reason"]
    assert doc["resume_command"].startswith("bme-migrate migrate") and "--notify" in doc["resume_command"]
    assert doc["counts"]["pending"] > 0 and doc["counts"]["rows_read"] == 20
    assert "PAUSED" in doc["text"] and "resume with: bme-migrate migrate" in doc["text"]


def test_a_failed_run_notifies_too(run: Run, receiver: Receiver, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"BME_BASE_URL": sandbox.url, "BME_API_KEY": "bme_wrong_key_0000"}
    failed = run([*_args(tmp_path), "--notify", receiver.url], env)
    assert failed.exit_code == 4, failed.output
    [(_, _, doc)] = receiver.posts
    assert doc["state"] == "failed" and doc["reason"] and "FAILED" in doc["text"]
    assert "bme_wrong_key_0000" not in json.dumps(doc)


def test_a_receiver_that_answers_500_does_not_change_the_exit_code(
    run: Run, remote: dict[str, str], tmp_path: Path
) -> None:
    remote.pop("KEY")
    broken = Receiver(status=500)
    try:
        done = run([*_args(tmp_path), "--notify", broken.url], remote)
    finally:
        broken.close()
    assert done.exit_code == 0, done.output
    assert len(broken.posts) == 1
    assert "warning: notification failed: --notify: 127.0.0.1 answered HTTP 500" in done.err
    assert "secretpath" not in done.output  # a webhook's path is its secret: only the host is named
    events, _ = read_events(tmp_path / "s" / "events.jsonl")
    assert events[-1]["event"] == "notify_failed" and "HTTP 500" in events[-1]["error"]

    unreachable = run([*_args(tmp_path), "--notify", "http://127.0.0.1:9/hook"], remote)
    assert unreachable.exit_code == 0 and "could not reach 127.0.0.1" in unreachable.err


def test_notify_command_gets_the_same_json_on_stdin(run: Run, remote: dict[str, str], tmp_path: Path) -> None:
    remote.pop("KEY")
    got = tmp_path / "got.json"
    done = run([*_args(tmp_path), "--notify-command", f"cat > '{got}'"], remote)
    assert done.exit_code == 0, done.output
    doc = json.loads(got.read_text(encoding="utf-8"))
    assert set(doc) >= KEYS and doc["state"] == "complete" and doc["counts"]["created"] == 20

    failing = run([*_args(tmp_path), "--notify-command", "echo cannot deliver >&2; exit 3"], remote)
    assert failing.exit_code == 0, failing.output
    assert "warning: notification failed: --notify-command exited 3: cannot deliver" in failing.err


def test_a_notify_url_that_is_not_http_is_a_usage_error_before_any_work(run: Run, tmp_path: Path) -> None:
    bad = run([*_args(tmp_path), "--notify", "hooks.slack.com/services/x"])
    assert bad.exit_code == 2 and "--notify needs an http(s):// URL" in bad.output
    assert not (tmp_path / "s").exists()
