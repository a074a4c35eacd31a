"""ordered_map: input order, bounded calls in flight, early first result, cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from byom.execution.pipeline import ordered_map


class Source:
    """Numbered items; records how many were read and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.read = 0
        self.closed = False

    async def items(self) -> AsyncIterator[int]:
        try:
            for number in range(self.count):
                if number == self.fail_at:
                    raise ValueError(f"read {number} failed")
                self.read += 1
                yield number
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_results_keep_input_order_when_calls_finish_out_of_order() -> None:
    async def call(n: int) -> int:
        await asyncio.sleep(0.01 * (5 - n % 5))
        return n * 10

    got = [r async for r in ordered_map(Source(12).items(), call, 4)]

    assert got == [n * 10 for n in range(12)]


async def test_at_most_limit_calls_are_in_flight() -> None:
    running, most = 0, 0

    async def call(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.005)
        running -= 1
        return n

    got = [r async for r in ordered_map(Source(30).items(), call, 3)]

    assert got == list(range(30)) and most == 3


async def test_first_result_does_not_wait_for_the_other_slots_to_fill() -> None:
    gate = asyncio.Event()

    async def call(n: int) -> int:
        if n > 0:
            await gate.wait()
        return n

    source = Source(10)
    results = ordered_map(source.items(), call, 4)
    first = await asyncio.wait_for(anext(results), 1)
    gate.set()
    rest = [r async for r in results]

    assert (first, rest) == (0, list(range(1, 10)))


async def test_a_slow_consumer_stops_the_reading() -> None:
    source = Source(100)

    async def call(n: int) -> int:
        return n

    results = ordered_map(source.items(), call, 2)
    assert await anext(results) == 0
    await asyncio.sleep(0.05)

    assert source.read <= 3
    await results.aclose()
    assert source.closed


async def test_a_failed_call_cancels_the_others_and_closes_the_input() -> None:
    cancelled = []

    async def call(n: int) -> int:
        if n == 1:
            raise RuntimeError("model down")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    source = Source(10)
    with pytest.raises(RuntimeError, match="model down"):
        async for _ in ordered_map(source.items(), call, 3):
            pass

    assert source.closed and 0 in cancelled


async def test_a_read_failure_comes_after_the_results_before_it() -> None:
    async def call(n: int) -> int:
        return n

    got = []
    with pytest.raises(ValueError, match="read 3 failed"):
        async for result in ordered_map(Source(10, fail_at=3).items(), call, 2):
            got.append(result)

    assert got == [0, 1, 2]
