"""A sandbox app served on a loopback port in a background thread: the embedded target and the test fixture.

``stop()`` shuts the HTTP server down first and then closes the database, so a new ``LocalSandbox`` over
the same file sees every committed write (that is what "restart keeps everything" means).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from etl.clock import Clock
from etl.config import SANDBOX_KEY
from etl.sandbox.app import SandboxApp, create_app
from etl.sandbox.http import RunningServer
from etl.sandbox.knobs import Knobs


class LocalSandbox:
    def __init__(
        self,
        db: str | Path = ":memory:",
        knobs: Knobs | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app: SandboxApp = create_app(db, knobs, clock)
        self.api_key = SANDBOX_KEY
        try:
            self._server = RunningServer(self.app, host, port)
        except OSError:
            self.app.close()
            raise
        self._stopped = False

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        """Idempotent: fixtures and ``open_target`` may both reach it on error paths."""
        if self._stopped:
            return
        self._stopped = True
        # RunningServer.stop() waits for the accept loop's 0.5 s poll; a connection wakes the loop at once,
        # which keeps a test suite that starts hundreds of sandboxes fast.
        stopper = threading.Thread(target=self._server.stop, name="sandbox-stop")
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((self._server.host, self._server.port), timeout=0.1).close()
            stopper.join(0.01)
        self.app.close()

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
