"""Where a command sends contacts: the configured Benchmark account, or the embedded local sandbox.

With no key configured the tool never guesses an account: it migrates into a sandbox on a loopback port
with its database in the state directory, and says so in one line, so a first run is a safe rehearsal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from etl.config import ENV_API_KEY, ENV_BASE_URL, Secret, TargetSettings
from etl.errors import ConfigError
from etl.sandbox.knobs import Knobs
from etl.sandbox.server import LocalSandbox


def rehearsal_knobs() -> Knobs:
    """The embedded sandbox's limits: relaxed, so rehearsing 100,000 contacts takes minutes, not 28 hours.

    Everything else (statuses, duplicates, search rules, ``__v``) behaves as documented; the request counts a
    rehearsal reports are the real account's, and ``--dry-run`` prices them at the account's hourly rate.
    """
    return Knobs(hourly_limit=1_000_000, monthly_limit=1_000_000_000)


@contextmanager
def open_target(
    settings: TargetSettings,
    echo: Callable[[str], None],
    knobs: Knobs | None = None,
    *,
    doing: str = "migrating into",
) -> Iterator[tuple[str, Secret]]:
    """Yield ``(base_url, api_key)``; an embedded sandbox lives exactly as long as the ``with`` block.

    ``knobs`` only applies to the embedded sandbox (default: ``rehearsal_knobs()``; tests shrink limits).
    ``doing`` says what the command does with it ("reading", "planning against"): only migrate migrates.
    """
    if not settings.embedded:
        if settings.base_url is None or settings.api_key is None:
            raise ConfigError(f"set {ENV_API_KEY} and {ENV_BASE_URL} to target a Benchmark account")
        yield settings.base_url, settings.api_key
        return
    db = settings.sandbox_db
    try:
        box = LocalSandbox(db, knobs or rehearsal_knobs())
    except OSError as exc:
        raise ConfigError(f"cannot start the embedded sandbox: {exc.strerror or exc}") from None
    try:
        echo(
            f"No {ENV_API_KEY} set: {doing} the embedded local sandbox at {box.url} (database {db}; "
            "rate limits relaxed for the rehearsal, request counts as on a real account). "
            f"Set {ENV_API_KEY} and {ENV_BASE_URL} to target your Benchmark account."
        )
        yield box.url, Secret(box.api_key, "the embedded sandbox")
    finally:
        box.stop()
