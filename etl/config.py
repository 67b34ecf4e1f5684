"""Settings from the environment and files, read once at the edge (the CLI) and frozen.

Nothing below this module reads ``os.environ``. The API key is wrapped in ``Secret`` so that it cannot
leak through ``repr``, f-strings in logs, reports or exception text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from etl import paths
from etl.errors import ConfigError

ENV_API_KEY = "BME_API_KEY"
ENV_API_KEY_FILE = "BME_API_KEY_FILE"
ENV_BASE_URL = "BME_BASE_URL"
SANDBOX_DB_NAME = "sandbox.db"
SANDBOX_KEY = "bme_sandbox_key"


SUFFIX_MIN_LENGTH = 24  # a key shorter than this shows no suffix: four characters would be too much of it


class Secret:
    """A string that never shows itself: ``str()``/``repr()`` give ``***``; ``reveal()`` gives the value.

    ``origin`` says where it was read from (``BME_API_KEY``, a key file): a refused key is named by where it
    came from, because that is what the user has to go and fix, and never by its value.
    """

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str = "") -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def describe(self) -> str:
        """``the API key from BME_API_KEY (ending …x7Qa)``: where it came from and, for a full-length key,
        its last four characters, so a user holding several keys can tell which one was sent."""
        where = f" from {self.origin}" if self.origin else ""
        tail = f" (ending …{self._value[-4:]})" if len(self._value) >= SUFFIX_MIN_LENGTH else ""
        return f"the API key{where}{tail}"

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


MAX_KEY_LENGTH = 512  # Benchmark keys are far shorter; anything longer is not a key
MAX_KEY_FILE_BYTES = 4096  # a key file is read no further: /dev/zero or a video is refused, not slurped
KEY_FILE_ORIGIN = "the file given by --api-key-file / BME_API_KEY_FILE"


def check_key(key: str, origin: str) -> str:
    """``key`` if it can travel in an ``X-API-Key`` header: printable ASCII, no whitespace, bounded.

    The message names where the key came from and what is wrong, never the value: a key pasted where a
    path belongs, or a file with the wrong bytes, must not reach a terminal, a log or CI output.
    """
    if not key:
        raise ConfigError(f"the API key in {origin} is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ConfigError(f"the API key in {origin} is longer than {MAX_KEY_LENGTH} characters")
    if any(c.isspace() for c in key):
        raise ConfigError(f"the API key in {origin} contains whitespace (a space, tab or line break)")
    if not all(" " < c < "\x7f" for c in key):
        raise ConfigError(f"the API key in {origin} has characters other than printable ASCII")
    return key


def read_key_file(path: str | Path) -> str:
    """The key on the first line of ``path`` (surrounding blank space trimmed), read no further than
    ``MAX_KEY_FILE_BYTES``; neither the path (it may be a key pasted in the wrong place) nor the content
    appears in an error."""
    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_KEY_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a readable file"
        raise ConfigError(f"cannot read {KEY_FILE_ORIGIN}: {why}") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{KEY_FILE_ORIGIN} is larger than {MAX_KEY_FILE_BYTES:,} bytes: not a key file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{KEY_FILE_ORIGIN} is not text (binary or not UTF-8)") from None
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines:
        raise ConfigError(f"{KEY_FILE_ORIGIN} is empty")
    if len(lines) > 1:
        raise ConfigError(f"{KEY_FILE_ORIGIN} has more than one line; put only the API key in it")
    return check_key(lines[0], KEY_FILE_ORIGIN)


def target_from_env(
    env: Mapping[str, str], *, state_dir: str | Path | None = None, key_file: str | Path | None = None
) -> TargetSettings:
    """Resolve the target: an API key (env or file) and base URL, or else the embedded sandbox.

    Precedence: ``--api-key-file`` flag, then ``BME_API_KEY``, then ``BME_API_KEY_FILE``. A key without a
    base URL is an error rather than a guess: Benchmark base URLs are per account and region.
    """
    sdir = paths.state_dir(state_dir, env)
    key: str | None = None
    origin = ""
    if key_file:
        key, origin = read_key_file(key_file), "the file given by --api-key-file"
    elif env.get(ENV_API_KEY):
        key, origin = check_key(env[ENV_API_KEY].strip(), ENV_API_KEY), ENV_API_KEY
    elif env.get(ENV_API_KEY_FILE):
        key, origin = read_key_file(env[ENV_API_KEY_FILE]), f"the file named by {ENV_API_KEY_FILE}"
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
    try:
        parts = urlsplit(base_url)
        has_userinfo = bool(parts.username or parts.password) or "@" in parts.netloc
        host = parts.hostname
    except ValueError:
        raise ConfigError(f"{ENV_BASE_URL} is not a valid URL") from None
    if has_userinfo:  # never echoed: the part before @ is a credential
        raise ConfigError(
            f"{ENV_BASE_URL} must not carry credentials (user:password@); the key goes in "
            f"{ENV_API_KEY} or {ENV_API_KEY_FILE}"
        )
    if not host:
        raise ConfigError(f"{ENV_BASE_URL} has no host")
    return TargetSettings(base_url=base_url, api_key=Secret(key, origin), embedded=False, state_dir=sdir)
