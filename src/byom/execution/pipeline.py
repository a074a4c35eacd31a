"""Ordered, bounded concurrency over a stream of batches.

``ordered_map`` keeps up to ``limit`` calls in flight and yields their results in
input order, so the rows of a join come back in the order the source gave them
while several model calls overlap. It pulls the next input only when a slot is
free, which carries back-pressure from the client to the source.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


async def ordered_map(
    items: AsyncIterator[In],
    call: Callable[[In], Awaitable[Out]],
    limit: int,
) -> AsyncIterator[Out]:
    """Yield call(item) for each item, in order, with at most limit in flight.

    If the consumer stops early or a call fails, calls still in flight are
    cancelled and the input iterator is closed.
    """
    pending: deque[asyncio.Task[Out]] = deque()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    exhausted = True
                    break
                pending.append(asyncio.ensure_future(call(item)))
            if not pending:
                return
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
