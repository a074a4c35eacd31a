"""A whole-query time limit that also covers the rows still streaming out.

A query's result is a stream: planning and the first fetch happen before the
header is sent, the rest while the client reads. The limit (``query_timeout``,
or MySQL's ``max_execution_time`` for one session) is one deadline for all of
it. When it passes, the batch being produced is abandoned, which cancels the
model calls in flight and closes the source's cursor (``pipeline.ordered_map``
cleans up on close), and the client gets MySQL's error 3024.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from byom.errors import QueryTimeoutError

T = TypeVar("T")


def timeout_error(seconds: float) -> QueryTimeoutError:
    """The error for a query that ran past its limit of seconds."""
    return QueryTimeoutError(
        "Query execution was interrupted, maximum statement execution time "
        f"exceeded ({seconds:g} s)"
    )


async def before(deadline: float, seconds: float, work: Awaitable[T]) -> T:
    """Await work, or fail with 3024 once the loop's clock passes deadline."""
    try:
        async with asyncio.timeout_at(deadline):
            return await work
    except TimeoutError:
        raise timeout_error(seconds) from None


async def bounded(
    batches: AsyncIterator[T], deadline: float, seconds: float
) -> AsyncIterator[T]:
    """The batches produced before deadline; then error 3024."""
    try:
        while True:
            try:
                batch = await before(deadline, seconds, anext(batches))
            except StopAsyncIteration:
                return
            yield batch
    finally:
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            await aclose()
