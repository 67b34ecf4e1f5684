"""Read ahead: run an iterator in a background thread, a bounded number of items ahead of its consumer.

Why. Validating a batch and reading the next one are independent, and most of either runs inside polars
with the GIL released: on the 2-core benchmark the streamed dry run keeps ~1.3 cores busy without this.
With the reader one item ahead the two stages overlap. Memory grows by the items in flight, which stays
below the peak of the final duplicate collapse (``make bench ARGS=validate`` prints both).

Errors raised by the iterator (an ``InputError`` on a bad line, say) are re-raised in the consumer, where
the failed item would have arrived. A consumer that stops early (an exception, ``break``) stops the
reader: it finishes the item in hand, closes the iterator and exits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL = 0.05  # seconds between looks at the stop flag while the queue is full


class _End:
    """What the reader puts last: ``error`` is what the iterator raised, None when it simply ended."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def prefetch(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """Yield ``items`` in order while a thread produces up to ``depth`` of them ahead."""
    buf: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj: T | _End) -> bool:
        while not stop.is_set():
            try:
                buf.put(obj, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        end = _End(None)
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer and raised there
            end = _End(exc)
        finally:
            if stop.is_set():
                close = getattr(items, "close", None)
                if close is not None:
                    close()
            else:
                put(end)

    thread = threading.Thread(target=produce, name="bme-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            got = buf.get()
            if isinstance(got, _End):
                if got.error is not None:
                    raise got.error
                return
            yield got
    finally:
        stop.set()
        thread.join()
