"""Settings from the environment and files, read once at the edge (the CLI) and frozen.

Nothing below this module reads ``os.environ``. The API key is wrapped in ``Secret`` so that it cannot
leak through ``repr``, f-strings in logs, reports or exception text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etl.errors import ConfigError

ENV_API_KEY = "BME_API_KEY"
ENV_API_KEY_FILE = "BME_API_KEY_FILE"
ENV_BASE_URL = "BME_BASE_URL"
ENV_STATE_DIR = "BME_STATE_DIR"
DEFAULT_STATE_DIR = ".etl"
SANDBOX_DB_NAME = "sandbox.db"
SANDBOX_KEY = "bme_sandbox_key"


class Secret:
    """A string that never shows itself: ``str()``/``repr()`` give ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TargetSettings:
    """Where contacts go. ``embedded`` means: start the local sandbox and use it."""

    base_url: str | None
    api_key: Secret | None
    embedded: bool
    state_dir: Path

    @property
    def sandbox_db(self) -> Path:
        return self.state_dir / SANDBOX_DB_NAME


def read_key_file(path: str | Path) -> str:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read API key file {p}: {exc.strerror or exc}") from None
    if not text:
        raise ConfigError(f"API key file {p} is empty")
    return text.splitlines()[0].strip()


def target_from_env(
    env: Mapping[str, str], *, state_dir: str | Path | None = None, key_file: str | Path | None = None
) -> TargetSettings:
    """Resolve the target: an API key (env or file) and base URL, or else the embedded sandbox.

    Precedence: ``--api-key-file`` flag, then ``BME_API_KEY``, then ``BME_API_KEY_FILE``. A key without a
    base URL is an error rather than a guess: Benchmark base URLs are per account and region.
    """
    sdir = Path(state_dir or env.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR)
    key: str | None = None
    if key_file:
        key = read_key_file(key_file)
    elif env.get(ENV_API_KEY):
        key = env[ENV_API_KEY].strip()
    elif env.get(ENV_API_KEY_FILE):
        key = read_key_file(env[ENV_API_KEY_FILE])
    base_url = (env.get(ENV_BASE_URL) or "").strip().rstrip("/") or None
    if key is None:
        if base_url:
            raise ConfigError(
                f"{ENV_BASE_URL} is set but no API key: set {ENV_API_KEY} or {ENV_API_KEY_FILE}"
            )
        return TargetSettings(base_url=None, api_key=None, embedded=True, state_dir=sdir)
    if not base_url:
        raise ConfigError(
            f"{ENV_BASE_URL} is not set: copy your account's API base URL from Settings > API Keys"
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_BASE_URL} must start with http:// or https://")
    return TargetSettings(base_url=base_url, api_key=Secret(key), embedded=False, state_dir=sdir)
