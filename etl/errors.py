"""One exception tree for the whole tool, grouped by what the caller should do.

::

    MigrationError                 root; ``exit_code`` says how the CLI ends
    ├── ConfigError                bad settings or flags                       → exit 2
    ├── InputError                 unreadable/unusable source (file, line, col) → exit 2
    ├── ConsentUnclear             a column may carry consent nobody can read   → exit 2
    ├── ValidationBlocked          rejects found and --fail-on-rejects          → exit 3
    ├── MappingError               a target field/list/tag cannot be resolved   → exit 2
    ├── VerificationFailed         verify found the account differs from a run  → exit 5
    ├── LoadError                  talking to the target API
    │   ├── RetriableLoadError     5xx, network, hourly 429: wait and retry (carries retry_after)
    │   ├── FatalLoadError         bad request the caller cannot fix by waiting  → exit 1
    │   │   └── AuthError          401 key refused / 403 scope missing          → exit 4
    │   └── RecordRejected         the API refused one contact; record it and go on
    │       ├── DuplicateKey       400 DuplicateFieldError: the key exists (maybe our own lost create)
    │       ├── StaleVersion       400 ConcurrencyError: re-GET and try once more
    │       ├── InvalidRequest     400 ValidationError (``field`` names the input when the server does)
    │       └── NotFound           404 RecordNotFound
    └── Paused                     quota, --max-requests, interrupt: resumable  → exit 75
        └── QuotaExhausted         the monthly quota is spent (``wait``: seconds to its reset)

Exceptions carry references (file, line, HTTP status, errorType), never frames, bodies or secrets.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConsentUnclear",
    "DuplicateKey",
    "FatalLoadError",
    "InputError",
    "InvalidRequest",
    "LoadError",
    "MappingError",
    "MigrationError",
    "NotFound",
    "Paused",
    "QuotaExhausted",
    "RecordRejected",
    "RetriableLoadError",
    "StaleVersion",
    "ValidationBlocked",
    "VerificationFailed",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_AUTH = 4
EXIT_VERIFY_MISMATCH = 5
EXIT_PAUSED = 75


class MigrationError(Exception):
    """Root of every error the tool raises on purpose."""

    exit_code: int = EXIT_UNEXPECTED


class ConfigError(MigrationError):
    exit_code = EXIT_USAGE


class ConsentUnclear(MigrationError):
    """A column may carry consent but cannot be read with confidence: the run stops before its first
    write. The message names each column, its values and the flags that settle it, one line per column."""

    exit_code = EXIT_USAGE


class InputError(MigrationError):
    """A source cannot be read. The message names the file and, where known, line and column."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line
        self.column = column


class ValidationBlocked(MigrationError):
    exit_code = EXIT_VALIDATION


class MappingError(MigrationError):
    exit_code = EXIT_USAGE


class VerificationFailed(MigrationError):
    """``verify`` read a run back and the account differs from what the ledger says was written."""

    exit_code = EXIT_VERIFY_MISMATCH


class LoadError(MigrationError):
    """An error talking to the target API."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.method = method
        self.path = path


class RetriableLoadError(LoadError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FatalLoadError(LoadError):
    pass


class AuthError(FatalLoadError):
    exit_code = EXIT_AUTH


class RecordRejected(LoadError):
    pass


class DuplicateKey(RecordRejected):
    """400 ``DuplicateFieldError``: the key already exists in the structure (maybe from our own lost create)."""

    ambiguous: bool = False  # set by the client: an earlier attempt of the same request may have applied


class StaleVersion(RecordRejected):
    """400 ``ConcurrencyError``: the ``__v`` we sent is stale; re-GET and try once more."""


class InvalidRequest(RecordRejected):
    """400 ``ValidationError``; ``field`` names the offending input when the server says so."""

    def __init__(
        self, message: str, *, field: str | None = None, field_id: str | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.field = field
        self.field_id = field_id


class NotFound(RecordRejected):
    """404 ``RecordNotFound``."""


class Paused(MigrationError):
    """The run stopped cleanly and can be resumed by running the same command again."""

    exit_code = EXIT_PAUSED

    def __init__(self, message: str, *, resume_after: str | None = None) -> None:
        super().__init__(message)
        self.resume_after = resume_after


class QuotaExhausted(Paused):
    """The account's monthly quota is spent; ``wait`` is the server's ``Retry-After`` (seconds to the reset),
    which ``--wait-for-quota`` sleeps through when it is within ``--max-wait``."""

    def __init__(self, message: str, *, resume_after: str | None = None, wait: float | None = None) -> None:
        super().__init__(message, resume_after=resume_after)
        self.wait = wait
