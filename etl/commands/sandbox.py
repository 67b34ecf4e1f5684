"""``bme-migrate sandbox``: run the local Benchmark-compatible server in the foreground until Ctrl-C.

The sandbox's keys are public (printed below, written in docs/sandbox.md), so binding anything but loopback
exposes a full-access API to the network: that is allowed (a container, a VM) but never silent.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import click

from etl.commands.common import console_options
from etl.config import SANDBOX_DB_NAME, SANDBOX_KEY
from etl.errors import ConfigError
from etl.paths import DEFAULT_STATE_DIR
from etl.sandbox.app import create_app
from etl.sandbox.http import serve_forever
from etl.sandbox.knobs import READONLY_KEY, Knobs, load_knobs
from etl.terminal import say


@click.command(name="sandbox", short_help="Run the local Benchmark-compatible API server.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (keep it on loopback: any other address warns that the public keys are exposed).",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--db",
    "db",
    default=str(Path(DEFAULT_STATE_DIR) / SANDBOX_DB_NAME),
    show_default=True,
    help="SQLite file that keeps contacts, lists, structures and rate counters (':memory:' for none).",
)
@click.option(
    "--knobs",
    "knobs_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON or TOML file of behaviour knobs (see docs/sandbox.md); flags below override it.",
)
@click.option("--hourly-limit", type=int, default=None, help="Requests per hourly window (default 3600).")
@click.option("--window-seconds", type=int, default=None, help="Length of the rate window (default 3600).")
@click.option("--monthly-limit", type=int, default=None, help="Requests per billing period (default 100000).")
@click.option(
    "--max-page-size", type=int, default=None, help="Largest search pageSize accepted (default 100)."
)
@click.option(
    "--key-match",
    type=click.Choice(["sensitive", "insensitive"]),
    default=None,
    help="Case rule of search EQ on KEY (default sensitive).",
)
@click.option(
    "--unique-match",
    type=click.Choice(["insensitive", "sensitive"]),
    default=None,
    help="Case rule of the duplicate-key check (default insensitive).",
)
@click.option(
    "--fail-rate", type=float, default=None, help="Fraction of requests answered 500 (fault injection)."
)
@click.option(
    "--lost-response-rate",
    type=float,
    default=None,
    help="Fraction of successful writes applied but left without a response.",
)
@click.option("--latency-ms", type=float, default=None, help="Delay added to every API request.")
@click.option("--seed", type=int, default=None, help="Seed of the fault-injection random source.")
@console_options()
def command(
    host: str,
    port: int,
    db: str,
    knobs_file: str | None,
    hourly_limit: int | None,
    window_seconds: int | None,
    monthly_limit: int | None,
    max_page_size: int | None,
    key_match: str | None,
    unique_match: str | None,
    fail_rate: float | None,
    lost_response_rate: float | None,
    latency_ms: float | None,
    seed: int | None,
) -> None:
    """Run the local Benchmark-compatible API server until Ctrl-C.

    It speaks the Benchmark Email REST API (X-API-Key auth, contacts, search, lists, structures, rate-limit
    headers and 429s) and keeps its data in a SQLite file, so a restart keeps everything. The test key
    bme_sandbox_key has every scope; bme_sandbox_readonly has contacts:read only.

    \b
    Example:
      bme-migrate sandbox --port 8765 --hourly-limit 100000
      BME_BASE_URL=http://127.0.0.1:8765 BME_API_KEY=bme_sandbox_key bme-migrate migrate export.csv
    """
    overrides: dict[str, Any] = {
        "hourly_limit": hourly_limit,
        "window_seconds": window_seconds,
        "monthly_limit": monthly_limit,
        "max_page_size": max_page_size,
        "key_match": key_match,
        "unique_match": unique_match,
        "fail_rate": fail_rate,
        "lost_response_rate": lost_response_rate,
        "latency_ms": latency_ms,
        "seed": seed,
    }
    try:
        _serve(host, port, db, knobs_file, overrides)
    except KeyboardInterrupt:  # Ctrl-C before the server was up (reading knobs, opening the database)
        say("interrupted", err=True)
        raise click.exceptions.Exit(130) from None


def _serve(host: str, port: int, db: str, knobs_file: str | None, overrides: dict[str, Any]) -> None:
    knobs = load_knobs(knobs_file) if knobs_file else Knobs()
    knobs = knobs.with_overrides(**overrides)
    app = create_app(db, knobs)

    def ready(url: str) -> None:
        bound = url.removeprefix("http://").rsplit(":", 1)[0]
        if not is_loopback(bound):
            say(exposure_warning(bound), err=True)
        say(f"Benchmark sandbox listening on {url} (database {db})")
        if SANDBOX_KEY in knobs.api_keys:  # a public, fixed test key: printing it is the point
            extra = f"  (read-only key: {READONLY_KEY})" if READONLY_KEY in knobs.api_keys else ""
            say(f"API key: {SANDBOX_KEY}{extra}")
        else:
            say(f"API keys: as configured in {knobs_file}")
        say("Press Ctrl-C to stop.")

    try:
        serve_forever(app, host, port, on_ready=ready)
    except KeyboardInterrupt:
        say("sandbox stopped")
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        app.close()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; the wildcard 0.0.0.0 and every other address are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str:
    return (
        f"WARNING: the sandbox is bound to {host}, not loopback: anyone who can reach this machine can use "
        f"its well-known API keys ({SANDBOX_KEY}, {READONLY_KEY}) to read and change its data. "
        "Use --host 127.0.0.1 unless you mean it."
    )
