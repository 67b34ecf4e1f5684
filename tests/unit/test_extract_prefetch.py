"""Read-ahead: items arrive in order, errors arrive where they happened, an early stop stops the reader."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from etl.extract.prefetch import prefetch


def test_items_arrive_in_order() -> None:
    assert list(prefetch(iter(range(1000)), depth=2)) == list(range(1000))


def test_an_error_arrives_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3 is bad")

    got = []
    with pytest.raises(ValueError, match="line 3 is bad"):
        for x in prefetch(items()):
            got.append(x)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_and_closes_the_reader() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = prefetch(items(), depth=1)
    assert next(stream) == 0
    stream.close()  # joins the reader thread before returning
    assert closed.is_set()
    assert len(produced) <= 3  # the item handed over, one in the queue, one in hand: no read-on
